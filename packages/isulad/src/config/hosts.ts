export { parseHostUri as parseHost, type HostAddress } from '@isula/protocol';

/** Keeps the first occurrence of each host, in order (upstream de-duplicates). */
export function dedupHosts(hosts: string[]): string[] {
  return [...new Set(hosts)];
}
