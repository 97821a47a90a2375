export interface BuildInfo {
  version: string;
  gitCommit: string;
  buildTime: string;
}

// The bundler replaces this with the values of the build (tools/build/build-info.mjs).
declare const __ISULA_BUILD_INFO__: BuildInfo | undefined;

export const buildInfo: BuildInfo =
  typeof __ISULA_BUILD_INFO__ !== 'undefined' ? __ISULA_BUILD_INFO__ : { version: '0.0.0-dev', gitCommit: 'unknown', buildTime: 'unknown' };
