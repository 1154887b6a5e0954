// Load a TF.js layers model from disk with tf.loadLayersModel and run it on fixed inputs.
//
// Usage: node run_model.js TFJS_DIR MODEL_JSON INPUTS_JSON
//   TFJS_DIR     folder whose node_modules holds @tensorflow/tfjs (e.g. .tfjs/1.5.2)
//   INPUTS_JSON  {"z": [[...], ...], "genres": [g0, g1, ...] (optional)}
// Prints one line "RESULT {"version": ..., "outputs": [[[...]]], "metadata": ...}" on stdout
// (TF.js 1.x may print a banner on stdout too; readers take the RESULT line); "metadata" is
// what the loaded model's getUserDefinedMetadata() returns (model.json's userDefinedMetadata).
//
// Pure @tensorflow/tfjs has no file:// handler in Node, so a small IOHandler reads
// model.json and its weight shards with fs. Conditional models get each genre id the way
// the Max for Live device passes it: a [[genre]] tensor next to z.
'use strict';
const fs = require('fs');
const path = require('path');

const [tfjsDir, modelJson, inputsJson] = process.argv.slice(2);
if (!tfjsDir || !modelJson || !inputsJson) {
  console.error('usage: node run_model.js TFJS_DIR MODEL_JSON INPUTS_JSON');
  process.exit(2);
}
const tf = require(path.resolve(tfjsDir, 'node_modules', '@tensorflow', 'tfjs'));

function fileHandler(jsonPath) {
  return {
    load: async () => {
      const model = JSON.parse(fs.readFileSync(jsonPath, 'utf8'));
      const base = path.dirname(jsonPath);
      const specs = [];
      const buffers = [];
      for (const group of model.weightsManifest) {
        for (const p of group.paths) buffers.push(fs.readFileSync(path.join(base, p)));
        specs.push(...group.weights);
      }
      const all = Buffer.concat(buffers);
      const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength);
      return {
        modelTopology: model.modelTopology,
        weightSpecs: specs,
        weightData: weightData,
        format: model.format,
        generatedBy: model.generatedBy,
        convertedBy: model.convertedBy,
        userDefinedMetadata: model.userDefinedMetadata,
      };
    },
  };
}

async function main() {
  const inputs = JSON.parse(fs.readFileSync(inputsJson, 'utf8'));
  const model = await tf.loadLayersModel(fileHandler(modelJson));
  const outputs = [];
  for (let i = 0; i < inputs.z.length; i++) {
    const z = tf.tensor2d([inputs.z[i]]);
    let y;
    if (inputs.genres) {
      const genre = tf.tensor2d([[inputs.genres[i]]]);
      y = model.predict([z, genre]);
      genre.dispose();
    } else {
      y = model.predict(z);
    }
    outputs.push((await y.array())[0]);
    y.dispose();
    z.dispose();
  }
  const metadata = model.getUserDefinedMetadata ? model.getUserDefinedMetadata() : null;
  const result = JSON.stringify({
    version: tf.version.tfjs,
    outputs: outputs,
    metadata: metadata === undefined ? null : metadata,
  });
  process.stdout.write('\nRESULT ' + result + '\n');
}

main().catch((error) => {
  console.error(String(error && error.stack ? error.stack : error));
  process.exit(1);
});
