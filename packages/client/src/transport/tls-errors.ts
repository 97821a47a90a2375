/*
 * What a failed TLS handshake means, in words a user can act on. Node reports the local checks by
 * OpenSSL verify codes (the daemon's certificate) and the daemon's refusals as TLS alerts it sent
 * (the client's certificate).
 */

const SERVER_NOT_TRUSTED = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
]);

/** A readable reason for a TLS failure (`code` as Node reports it), or undefined when it is not one. */
export function tlsFailureReason(code: string | undefined, detail: string, caPath?: string): string | undefined {
  if (!code) return undefined;
  if (SERVER_NOT_TRUSTED.has(code)) return `the daemon's certificate is not signed by the CA${caPath ? ` in ${caPath}` : ''} (${code})`;
  if (code === 'CERT_HAS_EXPIRED') return "the daemon's certificate has expired";
  if (code === 'CERT_NOT_YET_VALID') return "the daemon's certificate is not valid yet";
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return `the daemon's certificate does not name this host: ${detail}`;
  if (/ALERT_CERTIFICATE_REQUIRED|ALERT_HANDSHAKE_FAILURE/.test(code)) return 'the daemon requires a client certificate (--tlscert and --tlskey, or ISULAD_CERT_PATH)';
  if (/ALERT_UNKNOWN_CA|ALERT_BAD_CERTIFICATE|ALERT_DECRYPT_ERROR/.test(code)) return 'the daemon refused the client certificate (not signed by its CA)';
  if (/ALERT_CERTIFICATE_EXPIRED/.test(code)) return 'the daemon refused the client certificate: it has expired';
  if (/ALERT_PROTOCOL_VERSION/.test(code)) return 'the daemon and the client share no TLS version';
  if (code === 'ERR_SSL_WRONG_VERSION_NUMBER' || code === 'EPROTO') return 'the daemon does not speak TLS on this port (is it started with --tls?)';
  if (code === 'ERR_HTTP2_ALPN') return detail;
  if (code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_')) return detail;
  return undefined;
}
