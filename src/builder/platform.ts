// FROM --platform and the platform build args, as buildkit defines them: BUILDPLATFORM/BUILDOS/
// BUILDARCH/BUILDVARIANT (where the build runs) and TARGETPLATFORM/TARGETOS/TARGETARCH/TARGETVARIANT
// (what it builds for) are in the global scope, for FROM lines; a stage sees one only when it declares
// it (`ARG TARGETARCH`). Pure.
import { platformString, type PlatformWanted } from '../core/manifest.js';

export function platformArgs(build: PlatformWanted, target: PlatformWanted): Map<string, string> {
  const m = new Map<string, string>();
  for (const [prefix, p] of [['BUILD', build], ['TARGET', target]] as const) {
    m.set(`${prefix}PLATFORM`, platformString(p));
    m.set(`${prefix}OS`, p.os);
    m.set(`${prefix}ARCH`, p.architecture);
    m.set(`${prefix}VARIANT`, p.variant ?? '');
  }
  return m;
}
