/** @module The running version, from package.json (one source of truth). */
import pkg from '../package.json' with { type: 'json' }

export const version: string = pkg.version
