import type { Resource } from '../model.ts';

/** Discovers resources (templates on disk now, live accounts later) as Resource definitions. */
export interface ResourceSource {
  readonly name: string;
  discover(): Promise<Resource[]>;
}
