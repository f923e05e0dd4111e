// A two-turn conversation with a tool call through Armistice with the Vercel AI SDK's
// default OpenAI provider (the Responses API, store: true), no provider options.
// Not part of the Go tests (it needs npm). Run it by hand against a server:
//
//   go run ./cmd/armistice serve --embedded-rate 0 &
//   d=$(mktemp -d) && cp scripts/aisdk-conversation.mjs $d && cd $d && npm install ai @ai-sdk/openai zod && node aisdk-conversation.mjs
//
// Seen on 2026-12-03 (ai 6.0.326, @ai-sdk/openai 3.0.141, embedded model): turn 1 calls the weather tool and
// answers with its result; turn 2 continues and finishes with stop.

import { generateText, tool, stepCountIs } from 'ai';
import { createOpenAI } from '@ai-sdk/openai';
import { z } from 'zod';

const openai = createOpenAI({ baseURL: 'process.env.ARMISTICE_URL ?? "http://127.0.0.1:8080/v1"', apiKey: 'unused' });
const model = openai('embedded'); // the default: the Responses API, store: true

const tools = {
  weather: tool({
    description: 'The weather in a city',
    inputSchema: z.object({ city: z.string() }),
    execute: async ({ city }) => `-3 and snowing in ${city}`,
  }),
};

const messages = [{ role: 'user', content: 'What is the weather in Oslo? Use the weather tool.' }];
const first = await generateText({ model, tools, messages, stopWhen: stepCountIs(3) });
console.log('turn 1 steps:', first.steps.length, 'tool calls:', first.steps.flatMap(s => s.toolCalls).map(c => c.toolName).join(','));
console.log('turn 1 text:', first.text.slice(0, 60));
messages.push(...first.response.messages);
messages.push({ role: 'user', content: 'And what about tomorrow?' });
const second = await generateText({ model, tools, messages });
console.log('turn 2 text:', second.text.slice(0, 60));
console.log('turn 2 finish:', second.finishReason);
