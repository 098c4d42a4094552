import fs from 'node:fs';
import type { Readable } from 'node:stream';
import type { ContentStore } from '../content/content-store.js';
import type { LayerStore } from './layer-store.js';

/**
 * Blobs by digest as push and save read them: the content store's, and the uncompressed tar of a committed
 * layer, which is not a blob but is made again from its tar-split (digest = diffID) when no blob of it exists.
 */
export class LayerBlobs {
  constructor(private readonly content: ContentStore, private readonly layers: LayerStore) {}

  async has(digest: string): Promise<boolean> {
    return (await this.content.has(digest)) || this.layers.tarOf(digest) !== undefined;
  }

  async size(digest: string): Promise<number> {
    const split = (await this.content.has(digest)) ? undefined : this.layers.tarOf(digest);
    return split ? split.size : this.content.size(digest);
  }

  read(digest: string): Readable {
    const split = fs.existsSync(this.content.path(digest)) ? undefined : this.layers.tarOf(digest);
    return split ? split.open() : this.content.createReadStream(digest);
  }
}
