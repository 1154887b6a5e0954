// A rhythm generator script in the style of the RhythmCAN Max for Live device's Node for Max
// script, written for rhythmcan from the device's documented message protocol (docs/tfjs.md);
// it is not the device's code. Tests run it under plain Node with a stand-in `max-api`
// (tests/tfjs/modules/max-api) and TF.js 1.5.x, the device's runtime.
//
// Messages in:
//   loadmodel PATH                            load a TF.js layers model (model.json)
//   generate THRESHOLD GENRE                  new z ~ N(0, 1) of size 100; remember it
//   generate_with_last_z NOISE THRESHOLD GENRE  z = last z + NOISE * N(0, 1) (last z kept)
// GENRE is the genre menu's id: 0..6, or -1 for "None". Like the device, a genre >= 0 is
// passed as [z, [[genre]]] and -1 passes z alone, so a conditional model needs a genre and a
// z-only model needs "None".
// Messages out, per generated pattern (drum rows 0..8, steps 0..31):
//   matrix_output STEP DRUM 1                 for every cell above the threshold
//   seq_output DRUM "V1 V2 ... V32"           velocities: floor(value * 127) above the
//                                             threshold, else 0
//   model_loaded 1|0, error MESSAGE           status (errors are also posted to the console)
'use strict';
const fs = require('fs');
const path = require('path');
const maxApi = require('max-api');
const tf = require('@tensorflow/tfjs');

const Z_DIM = 100;
const STEPS = 32;
const DRUMS = 9;

let model = null;
let lastZ = null;

// Pure @tensorflow/tfjs has no file:// loader in Node; read model.json and its weight files
// and hand TF.js everything in model.json (userDefinedMetadata included), as tfjs-node does.
function fileLoader(jsonPath) {
  return {
    load: async () => {
      const json = JSON.parse(fs.readFileSync(jsonPath, 'utf8'));
      const specs = [];
      const buffers = [];
      for (const group of json.weightsManifest) {
        for (const p of group.paths) buffers.push(fs.readFileSync(path.join(path.dirname(jsonPath), p)));
        specs.push(...group.weights);
      }
      const all = Buffer.concat(buffers);
      return {
        modelTopology: json.modelTopology,
        weightSpecs: specs,
        weightData: all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength),
        format: json.format,
        generatedBy: json.generatedBy,
        convertedBy: json.convertedBy,
        userDefinedMetadata: json.userDefinedMetadata,
      };
    },
  };
}

async function fail(message) {
  await maxApi.post(message, maxApi.POST_LEVELS.ERROR);
  await maxApi.outlet('error', message);
}

async function output(z, threshold, genre) {
  if (model === null) {
    await fail('no model loaded');
    return;
  }
  let values;
  try {
    values = tf.tidy(() => {
      const inputs = genre >= 0 ? [z, tf.tensor2d([[genre]])] : z;
      return model.predict(inputs).arraySync()[0];   // [step][drum]
    });
  } catch (error) {
    await fail('generate failed: ' + error.message);
    return;
  }
  for (let drum = 0; drum < DRUMS; drum++) {
    const velocities = [];
    for (let step = 0; step < STEPS; step++) {
      const value = values[step][drum];
      if (value > threshold) {
        await maxApi.outlet('matrix_output', step, drum, 1);
        velocities.push(Math.floor(value * 127));
      } else {
        velocities.push(0);
      }
    }
    await maxApi.outlet('seq_output', drum, velocities.join(' '));
  }
}

maxApi.addHandlers({
  loadmodel: async (modelPath) => {
    try {
      const loaded = await tf.loadLayersModel(fileLoader(String(modelPath)));
      if (model !== null) model.dispose();
      model = loaded;
      await maxApi.outlet('model_loaded', 1);
    } catch (error) {
      await fail('cannot load ' + modelPath + ': ' + error.message);
      await maxApi.outlet('model_loaded', 0);
    }
  },
  generate: async (threshold, genre) => {
    const z = tf.randomNormal([1, Z_DIM]);
    if (lastZ !== null) lastZ.dispose();
    lastZ = z;
    await output(z, Number(threshold), Number(genre));
  },
  generate_with_last_z: async (noise, threshold, genre) => {
    if (lastZ === null) {
      await fail('generate first: there is no last z yet');
      return;
    }
    const z = tf.tidy(() => lastZ.add(tf.randomNormal([1, Z_DIM]).mul(Number(noise))));
    await output(z, Number(threshold), Number(genre));
    z.dispose();
  },
});
