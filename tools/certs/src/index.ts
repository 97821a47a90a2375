// @isula/certs: the spec's two certificate recipes for isulad remote access, with node-forge.
export * from './certs.js';
export { prepareDir, writeBundle } from './files.js';
export { main, USAGE, type Io } from './main.js';
