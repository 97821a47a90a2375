/**
 * The CNI domain: pod networks for CRI sandboxes when `network-plugin` is "cni".
 * With network-plugin "" nothing here is used: the sandbox netns keeps only `lo` (set up by the runtime).
 */
export { CniManager, DEFAULT_IFNAME } from './manager';
export { CniError } from './errors';
export { parseBinDirs, loadNetworkConfig, parseNetworkConfig, confFiles } from './config';
export { podIpsFromResult } from './result';
export type {
  CniConfig, CniLogger, CniStatus, PortMapping, PodNetworkParams, TearDownParams, SetUpResult, NetworkConfigList,
} from './types';
