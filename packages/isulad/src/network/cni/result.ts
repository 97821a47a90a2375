/**
 * Reading the pod's addresses out of a CNI result, whatever its version:
 * 0.3.x / 0.4.0 / 1.0.0: `{ interfaces: [{name, sandbox?}], ips: [{address: "10.1.2.3/24", interface?: idx}] }`
 * 0.1.0 / 0.2.0:         `{ ip4: {ip: "10.1.2.3/24"}, ip6: {ip: "…/64"} }`
 * Addresses on interfaces outside the pod (no `sandbox`) are not pod IPs, as in containerd's go-cni.
 */
import net from 'node:net';

export interface PodIps {
  ip?: string;
  ips: string[];
}

function stripPrefix(cidr: unknown): string | undefined {
  if (typeof cidr !== 'string') return undefined;
  const addr = cidr.split('/')[0];
  return net.isIP(addr) ? addr : undefined;
}

export function podIpsFromResult(result: unknown): PodIps {
  const found: string[] = [];
  if (typeof result === 'object' && result !== null) {
    const r = result as Record<string, unknown>;
    if (Array.isArray(r.ips)) {
      const ifaces = Array.isArray(r.interfaces) ? (r.interfaces as Array<Record<string, unknown> | null>) : [];
      for (const c of r.ips as Array<Record<string, unknown> | null>) {
        if (!c) continue;
        const idx = c.interface;
        if (typeof idx === 'number') {
          const iface = ifaces[idx];
          // an index pointing at a host-side interface (no sandbox) is not the pod's address
          if (iface && !(typeof iface.sandbox === 'string' && iface.sandbox !== '')) continue;
        }
        const a = stripPrefix(c.address);
        if (a) found.push(a);
      }
    } else {
      for (const k of ['ip4', 'ip6']) {
        const c = r[k] as Record<string, unknown> | undefined;
        const a = c && stripPrefix(c.ip);
        if (a) found.push(a);
      }
    }
  }
  const uniq = [...new Set(found)];
  const v4 = uniq.find((a) => net.isIPv4(a));
  const ip = v4 ?? uniq[0];
  return { ip, ips: ip === undefined ? [] : [ip, ...uniq.filter((a) => a !== ip)] };
}
