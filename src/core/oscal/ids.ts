import { sha256Hex } from '../digest.ts';

/** The namespace of Argus's own OSCAL props. */
export const ARGUS_NS = 'https://argus.dev/ns/oscal';

/**
 * A name-based UUID (version 5 layout, SHA-256 instead of SHA-1): the same names always give the
 * same UUID, so exporting the same state twice gives the same document and an observation keeps
 * its UUID across exports, as OSCAL asks ("assigned per-subject").
 */
export function nameUuid(...names: readonly string[]): string {
  const hex = sha256Hex(`argus-oscal\u0000${names.join('\u0000')}`);
  const variant = ((Number.parseInt(hex[16] ?? '0', 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/** `nist-800-53:AC-2(1)` → `ac-2.1`; `SC-28` → `sc-28` (OSCAL SP 800-53 control ids). */
export function oscalControlId(reference: string): string {
  return reference
    .toLowerCase()
    .replace(/\((\w+)\)/g, '.$1')
    .replace(/\s+/g, '');
}
