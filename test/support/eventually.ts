// Retries an assertion until it passes or the time is up; the last failure is what the test reports.
export async function eventually<T>(
  assertion: () => T | Promise<T>,
  opts: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
  for (;;) {
    try {
      return await assertion();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, opts.intervalMs ?? 200));
    }
  }
}
