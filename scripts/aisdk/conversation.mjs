// A two-turn conversation with a tool call through Armistice with the Vercel AI SDK's
// default OpenAI provider: openai(model), the Responses API, store: true, no provider options.
// The second turn sends the first turn's answer back as an item_reference, as the SDK does.
//
// cmd/armistice's TestAISDKConversation runs it against a real server on a scripted upstream.
// By hand, against a server on the embedded model:
//
//   (cd scripts/aisdk && npm ci --no-audit --no-fund)   # the pinned SDK, from package-lock.json
//   go run ./cmd/armistice serve --embedded-rate 0 &
//   node scripts/aisdk/conversation.mjs http://127.0.0.1:8080 embedded
//
// Usage: node scripts/aisdk/conversation.mjs <server URL> [model]
// It prints one JSON line: what each turn answered, and what each POST /v1/responses sent
// (its input item types, store and previous_response_id), and exits 1 on any error.

import { generateText, tool, stepCountIs } from 'ai';
import { createOpenAI } from '@ai-sdk/openai';
import { z } from 'zod';

const [base, modelName = 'embedded'] = process.argv.slice(2);
if (!base) {
  console.error('usage: node scripts/aisdk/conversation.mjs <server URL> [model]');
  process.exit(2);
}

// What the SDK sends, recorded on its way out (the request itself is untouched).
const requests = [];
const recording = async (url, init) => {
  if (String(url).endsWith('/responses') && init?.method === 'POST') {
    const body = JSON.parse(init.body);
    requests.push({
      input: body.input.map(it => it.type ?? (it.role ? 'message' : 'item_reference')),
      store: body.store ?? null,
      previous_response_id: body.previous_response_id ?? null,
    });
  }
  return fetch(url, init);
};

const openai = createOpenAI({ baseURL: base.replace(/\/$/, '') + '/v1', apiKey: 'unused', fetch: recording });
const model = openai(modelName); // the default: the Responses API, store: true

const tools = {
  weather: tool({
    description: 'The weather in a city',
    inputSchema: z.object({ city: z.string() }),
    execute: async ({ city }) => `-3 and snowing in ${city}`,
  }),
};

const summary = result => ({
  steps: result.steps.length,
  toolCalls: result.steps.flatMap(s => s.toolCalls).map(c => `${c.toolName}(${JSON.stringify(c.input)})`),
  text: result.text,
  finishReason: result.finishReason,
});

const messages = [{ role: 'user', content: 'What is the weather in Oslo? Use the weather tool.' }];
const first = await generateText({ model, tools, messages, stopWhen: stepCountIs(3) });
messages.push(...first.response.messages);
messages.push({ role: 'user', content: 'And what about tomorrow?' });
const second = await generateText({ model, tools, messages });
console.log(JSON.stringify({ turns: [summary(first), summary(second)], requests }));
