// Metric lines (CloudWatch EMF JSON) are for CloudWatch, not for a person reading test output:
// tests that check them capture them (support/emf.ts); everywhere else they are dropped here.
const write = process.stdout.write.bind(process.stdout);
process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
  if (String(chunk).startsWith('{"_aws"')) return true;
  return (write as (...args: unknown[]) => boolean)(chunk, ...rest);
}) as typeof process.stdout.write;
