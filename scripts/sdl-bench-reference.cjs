// Throughput of Akash's reference SDL implementation (@akashnetwork/chain-sdk) on a directory of
// SDL files: parse (js-yaml), generate the manifest and hash it, in one process, for a few
// seconds after a warm-up. Run by scripts/sdl-bench from a directory where the SDK is installed.
const fs = require("fs");
const path = require("path");
const sdk = require("@akashnetwork/chain-sdk");
const YAML = require(require.resolve("js-yaml", { paths: [path.dirname(require.resolve("@akashnetwork/chain-sdk"))] }));

async function pass(docs) {
  let accepted = 0;
  for (const doc of docs) {
    try {
      const result = sdk.generateManifest(YAML.load(doc));
      if (!result.ok) continue;
      await sdk.generateManifestVersion(result.value.groups);
      accepted++;
    } catch (_) {
      // rejected input
    }
  }
  return accepted;
}

(async () => {
  const dir = process.argv[2];
  const seconds = Number(process.argv[3] || 3);
  const docs = fs.readdirSync(dir).sort().map((f) => fs.readFileSync(path.join(dir, f), "utf8"));
  await pass(docs); // warm-up (JIT)
  let passes = 0, files = 0, accepted = 0;
  const start = process.hrtime.bigint();
  let elapsed = 0;
  while (elapsed < seconds || passes === 0) {
    accepted = await pass(docs);
    files += docs.length;
    passes++;
    elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  }
  console.log(`reference: ${docs.length} files (${accepted} accepted), ${passes} passes in ${elapsed.toFixed(2)} s: ${(files / elapsed).toFixed(0)} files/s, ${(elapsed * 1000 / passes).toFixed(2)} ms per corpus pass`);
})();
