// The hosted API docs' Message Batches flow, run against Barge with the official TypeScript SDK.
// Start the server first (`npm ci && npx barge serve`), then: node examples/quickstart.mjs
import Anthropic from '@anthropic-ai/sdk';

const client = new Anthropic({
  baseURL: process.env.ANTHROPIC_BASE_URL ?? 'http://127.0.0.1:8080',
  apiKey: process.env.ANTHROPIC_API_KEY ?? 'any-key-works-with-auth-none',
});

// 1. Create a batch of two requests.
const batch = await client.messages.batches.create({
  requests: [
    {
      custom_id: 'my-first-request',
      params: { model: 'claude-opus-5', max_tokens: 1024, messages: [{ role: 'user', content: 'Hello, world' }] },
    },
    {
      custom_id: 'my-second-request',
      params: { model: 'claude-opus-5', max_tokens: 1024, messages: [{ role: 'user', content: 'Hi again, friend' }] },
    },
  ],
});
console.log(`created ${batch.id}: ${batch.processing_status}`);

// 2. Poll until it has ended.
let current = batch;
while (current.processing_status !== 'ended') {
  await new Promise((r) => setTimeout(r, 500));
  current = await client.messages.batches.retrieve(batch.id);
}
console.log('request_counts:', current.request_counts);

// 3. Print the results.
for await (const result of await client.messages.batches.results(batch.id)) {
  if (result.result.type === 'succeeded') {
    console.log(`${result.custom_id}: ${result.result.message.content[0].text}`);
  } else if (result.result.type === 'errored') {
    console.log(`${result.custom_id}: error ${result.result.error.error.type}`);
  } else {
    console.log(`${result.custom_id}: ${result.result.type}`);
  }
}

// 4. Create another batch and cancel it.
const other = await client.messages.batches.create({
  requests: [
    { custom_id: 'later', params: { model: 'claude-opus-5', max_tokens: 64, messages: [{ role: 'user', content: 'Later' }] } },
  ],
});
const canceled = await client.messages.batches.cancel(other.id);
console.log(`canceled ${canceled.id}: ${canceled.processing_status}`);
