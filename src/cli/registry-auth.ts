/**
 * The credentials the CLI sends to the daemon: X-Registry-Auth for an image reference (pull, push), from
 * config.json or its credential helpers, as the docker CLI picks them.
 */
import { parseNormalized } from '../core/reference.js';
import { encodeAuthHeader, INDEX_SERVER, type CliConfigFile } from './config-file.js';

/** The config.json key a registry host's credentials live under (Docker Hub's is INDEX_SERVER). */
export function serverKey(domain: string): string {
  return domain === 'docker.io' ? INDEX_SERVER : domain;
}

/** X-Registry-Auth for `image`'s registry; undefined when nothing is stored (anonymous). */
export function registryAuthFor(config: CliConfigFile, image: string): string | undefined {
  const a = config.getAuth(serverKey(parseNormalized(image).domain));
  return a ? encodeAuthHeader(a) : undefined;
}
