/**
 * `work`, unless the function's time runs out first: `marginMs` before the end of
 * `remainingMs`, the promise rejects with `onTimeout()`. The work itself is not stopped.
 */
export async function beforeDeadline<T>(
  work: Promise<T>,
  remainingMs: number | undefined,
  marginMs: number,
  onTimeout: () => Error,
): Promise<T> {
  if (remainingMs === undefined) return work;
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(onTimeout()), Math.max(0, remainingMs - marginMs));
  });
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}
