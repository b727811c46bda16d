/**
 * Whether a host name or address stays on this machine: `localhost`, 127.0.0.0/8
 * (RFC 1122 §3.2.1.3) or ::1 (RFC 4291 §2.5.3), with or without URL brackets.
 * Used to warn about plain ws:// beyond loopback, where the network can read and
 * pose as either side (SECURITY.md, Transport).
 */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  if (h === 'localhost' || h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  const m = /^127\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(h);
  return m !== null && m.slice(1).every((o) => Number(o) <= 255);
}
