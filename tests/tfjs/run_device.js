// Run tests/tfjs/device_generator.js the way the Max for Live device drives its script, with
// the stand-in max-api, and report every message it sent.
//
// Usage: NODE_PATH=tests/tfjs/modules:.tfjs/1.5.2/node_modules node run_device.js SCRIPT.json
//   SCRIPT.json  {"messages": [{"send": ["generate", 0.2, 3], "normals": [[...100...]]}, ...]}
//   "normals" are the N(0, 1) draws the script gets from tf.randomNormal, in order, so a test
//   knows z exactly.
// Prints "RESULT {"version": ..., "replies": [[outlet args, ...] per message], "posts": [...]}".
'use strict';
const fs = require('fs');
const path = require('path');

const tf = require('@tensorflow/tfjs');
const maxApi = require('max-api');

async function main() {
  const script = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  const queue = [];
  const realRandomNormal = tf.randomNormal;
  tf.randomNormal = (shape, mean, stdDev) => {
    if (queue.length === 0) return realRandomNormal(shape, mean, stdDev);
    const draw = queue.shift();
    const size = shape.reduce((a, b) => a * b, 1);
    if (draw.length !== size) throw new Error('prepared draw has ' + draw.length + ' numbers, need ' + size);
    return tf.tensor(draw, shape).mul(stdDev === undefined ? 1 : stdDev).add(mean || 0);
  };
  require(path.join(__dirname, 'device_generator.js'));
  const replies = [];
  for (const message of script.messages) {
    queue.push(...(message.normals || []));
    const before = maxApi.recorded.outlets.length;
    await maxApi.send(...message.send);
    replies.push(maxApi.recorded.outlets.slice(before));
  }
  const result = { version: tf.version.tfjs, replies: replies, posts: maxApi.recorded.posts };
  process.stdout.write('\nRESULT ' + JSON.stringify(result) + '\n');
}

main().catch((error) => {
  console.error(String(error && error.stack ? error.stack : error));
  process.exit(1);
});
