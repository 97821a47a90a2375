/**
 * OCI runtime spec generation for containers (upstream `src/daemon/modules/spec`).
 * Pure apart from reading the template, seccomp, hook-spec files, the rootfs' /etc/passwd and
 * /etc/group, and `stat` of device nodes (injectable).
 */
export { buildSpec, cgroupsPath, mergeEnv, parseSecurityOpts, resolveArgs, resolveStopSignal, resolveUmask, DEFAULT_CGROUP_PARENT, UMASK_ANNOTATION, UMASK_VALUES } from './build';
export { ALL_CAPABILITIES, DEFAULT_CAPABILITIES, capabilitiesFromMask, capabilitySets, normalizeCapability, tweakCapabilities } from './capabilities';
export {
  builtinSpec,
  loadTemplate,
  DEFAULT_DEVICES,
  DEFAULT_DEVICE_RULES,
  DEFAULT_MASKED_PATHS,
  DEFAULT_PATH_ENV,
  DEFAULT_READONLY_PATHS,
  DEFAULT_SECCOMP_PATH,
  DEFAULT_SHM_SIZE,
  DEFAULT_TEMPLATE_PATH,
  OCI_VERSION,
} from './default-spec';
export { mergeHooks, readHookSpec } from './hooks';
export { LOG_ANNOTATION, resolveLogConfig, type DockerLogConfig, type LogContext, type ResolvedLogConfig } from './log';
export { applyNamespaces, parseNamespaceMode, parseUserRemap, validateSysctls, type NamespaceMode } from './namespaces';
export {
  buildDevices,
  buildResources,
  buildRlimits,
  normalizeHugePageSize,
  parseDeviceCgroupRule,
  parseDeviceString,
  splitDevNumber,
  statDevice,
  RLIM_INFINITY,
} from './resources';
export {
  compileSeccomp,
  loadDefaultSeccompProfile,
  loadSeccompOption,
  parseSeccompProfile,
  DEFAULT_SECCOMP_PROFILE,
  type SeccompProfile,
  type SeccompRule,
} from './seccomp';
export { parseSignal, signalName, SIGNALS, SIGKILL, SIGTERM } from './signals';
export { parseGroup, parsePasswd, resolveUser, secureJoin, type ResolvedUser } from './user';
export * from './types';
