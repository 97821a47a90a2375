/**
 * Errors of the CNI domain. `CniError` carries, when a plugin failed, the plugin's own CNI error
 * object (`{code, msg, details}`, CNI spec "Error") so callers can log or map it.
 */
export class CniError extends Error {
  override readonly name = 'CniError';
  constructor(
    message: string,
    readonly detail: {
      /** CNI error code from the plugin's error JSON (1..7 well-known, >=100 plugin-specific). */
      code?: number;
      /** CNI_COMMAND that failed, when a plugin failed. */
      command?: string;
      /** the plugin's `type` */
      plugin?: string;
      /** network name */
      network?: string;
      /** the plugin's stderr (trimmed), for the log */
      stderr?: string;
    } = {},
  ) {
    super(message);
  }
}
