import { prepareRunnerRoot } from './runner-layout';

/**
 * `node prepare-layout.js <sourceDir> <root> [link|copy]`: lays out a runner root exactly as the
 * handler does. The image build uses it to prove the layout starts the real listener.
 */
async function main(argv: string[]): Promise<void> {
  const [sourceDir, root, layout = 'link'] = argv;
  if (!sourceDir || !root || (layout !== 'link' && layout !== 'copy')) {
    throw new Error('usage: prepare-layout <sourceDir> <root> [link|copy]');
  }
  await prepareRunnerRoot(sourceDir, root, layout);
}

main(process.argv.slice(2)).catch((error: Error) => {
  console.error(`lambda-runner: ${error.message}`);
  process.exit(1);
});
