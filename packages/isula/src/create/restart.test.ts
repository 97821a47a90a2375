import { describe, expect, it } from 'vitest';
import { buildRestartPolicy, parseRestartPolicy, restartPolicyError } from './restart';
import { usageErrorOf } from './test-util';

describe('--restart', () => {
  it.each([
    ['no', { Name: 'no' }],
    ['always', { Name: 'always' }],
    ['on-reboot', { Name: 'on-reboot' }],
    ['on-failure', { Name: 'on-failure' }],
    ['on-failure:5', { Name: 'on-failure', MaximumRetryCount: 5 }],
  ])('%s', (text, rp) => {
    expect(buildRestartPolicy(text, false)).toEqual(rp);
  });
  it('defaults to no', () => {
    expect(buildRestartPolicy(undefined, true)).toEqual({ Name: 'no' });
  });
  it.each([
    ['on-failure:1:2', 'Invalid restart policy format'],
    ['on-failure:x', 'Maximum retry count must be an integer: Invalid argument'],
    ['sometimes', "Invalid restart policy 'sometimes'"],
    ['always:3', "Maximum retry count cannot be used with restart policy 'always'"],
    ['on-failure:-1', 'Maximum retry count cannot be negative'],
    [':3', 'Maximum retry count cannot be used with empty restart policy'],
  ])('rejects %j', (text, msg) => {
    expect(usageErrorOf(() => buildRestartPolicy(text, false))).toBe(msg);
  });
  it('--rm conflicts with a restart policy', () => {
    expect(restartPolicyError(parseRestartPolicy('always'), true)).toBe("Can't create 'AutoRemove' container with restart policy");
    expect(restartPolicyError(parseRestartPolicy('no'), true)).toBeUndefined();
  });
});
