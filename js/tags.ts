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
