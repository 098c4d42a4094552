/** berth's own version and the Engine API versions it speaks: read by api/ (headers, negotiation) and services/ (version, info). */
export const API_VERSION = '1.45';
export const MIN_API_VERSION = '1.24';
export const BERTH_VERSION = '0.1.0';
