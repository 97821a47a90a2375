/**
 * Test helpers shared by the registry suites: clients with test defaults (closed together at the
 * end) and a rejection catcher that insists on a RegistryError.
 */
import pino from 'pino';
import { expect } from 'vitest';
import { RegistryClient, type RegistryClientOptions } from '../client';
import { RegistryError } from '../errors';
import { tempDir } from './harness';

const logger = pino({ level: 'silent' });

export function testClients(defaults: () => Partial<RegistryClientOptions>) {
  const open: RegistryClient[] = [];
  return {
    client(o: Partial<RegistryClientOptions> = {}): RegistryClient {
      const c = new RegistryClient({
        insecureRegistries: [],
        skipVerifyEnforce: false,
        certsDir: tempDir('isulad-test-certsd-empty'),
        credentials: async () => undefined,
        logger,
        userAgent: 'isulad-test/0',
        ...defaults(),
        ...o,
      });
      open.push(c);
      return c;
    },
    async closeAll(): Promise<void> {
      for (const c of open.splice(0)) await c.close();
    },
  };
}

export async function rejection(p: Promise<unknown>): Promise<RegistryError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(RegistryError);
    return e as RegistryError;
  }
  throw new Error('expected a rejection');
}
