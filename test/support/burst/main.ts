import { runBurst, type BurstOptions } from './burst';

// One burst, its options as JSON in the first argument; prints its report as one JSON line.
runBurst(JSON.parse(process.argv[2] ?? '{}') as BurstOptions).then(
  (report) => console.log(JSON.stringify(report)),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
