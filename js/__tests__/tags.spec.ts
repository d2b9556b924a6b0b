import {
  countTagged,
  firstLine,
  hasMarker,
  readTags,
  toggleTag
} from '../tags';

describe('tags', () => {
  it('reads tags from metadata values', () => {
    expect(readTags(['handover', 3, 'x'])).toEqual(['handover', 'x']);
    expect(readTags('handover')).toEqual([]);
    expect(
      countTagged([['handover'], undefined, ['a', 'handover']], 'handover')
    ).toBe(2);
  });

  it('toggles a tag', () => {
    expect(toggleTag(['a'], 'handover')).toEqual(['a', 'handover']);
    expect(toggleTag(['a', 'handover'], 'handover')).toEqual(['a']);
  });

  it('finds the marker and the first line after it', () => {
    expect(hasMarker('\n#  handover \nx = 1', 'handover')).toBe(true);
    expect(hasMarker('x = 1\n# handover', 'handover')).toBe(false);
    expect(hasMarker('# handover.v2', 'handover.v2')).toBe(true);
    expect(hasMarker('# handoverXv2', 'handover.v2')).toBe(false);
    expect(firstLine('# handover\n\ndef f():\n  pass', 'handover')).toBe(
      'def f():'
    );
    expect(firstLine('x = ' + 'a'.repeat(80), 'handover')).toHaveLength(60);
  });
});
