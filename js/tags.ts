/**
 * Pure helpers on cell tags: they take metadata values and return new ones.
 */

/**
 * The tags of a cell from its `tags` metadata value (anything else reads as no tags).
 */
export function readTags(value: unknown): string[] {
  if (!Array.isArray(value)) {
    return [];
  }
  return value.filter((tag): tag is string => typeof tag === 'string');
}

/**
 * The tags with `tag` added when absent, removed when present.
 */
export function toggleTag(tags: string[], tag: string): string[] {
  return tags.includes(tag) ? tags.filter(t => t !== tag) : [...tags, tag];
}

/**
 * How many of the cells' `tags` metadata values carry `tag`.
 */
export function countTagged(tagValues: Iterable<unknown>, tag: string): number {
  let count = 0;
  for (const value of tagValues) {
    if (readTags(value).includes(tag)) {
      count += 1;
    }
  }
  return count;
}

/**
 * Whether the first non-empty line of `source` is the `# <tag>` marker.
 */
export function hasMarker(source: string, tag: string): boolean {
  const first = source.split('\n').find(line => line.trim() !== '');
  if (first === undefined) {
    return false;
  }
  const escaped = tag.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`^#\\s*${escaped}\\s*$`).test(first.trim());
}

/**
 * The first non-empty line after the marker, shortened like the export does (60 chars).
 */
export function firstLine(source: string, tag: string): string {
  let lines = source
    .split('\n')
    .map(line => line.trim())
    .filter(line => line !== '');
  if (lines.length > 1 && hasMarker(lines[0], tag)) {
    lines = lines.slice(1);
  }
  const text = lines[0] ?? '';
  return text.length <= 60 ? text : text.slice(0, 57) + '...';
}
