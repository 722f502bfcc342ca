#!/usr/bin/env python3
"""Reference fixtures for chat-template rendering and tokenizer flags (HF transformers).

Builds three small tokenizers offline from assets/mini-ml's tokenizer.json, each with a published
chat template attached the way transformers 5 saves or reads it, and writes under
test/fixtures/templates/<name>/ the tokenizer files plus expected.json: for several conversations,
HF's apply_chat_template(..., tokenize=False) text and tokenize=True ids, with and without the
generation prompt, and tokenizer(text).input_ids for a few plain strings.

  chatml   Qwen2-Instruct's ChatML template, no BOS (loaded with add_bos_token=False, so the
           saved post-processor adds nothing); eos <|im_end|>; template in chat_template.jinja
           (transformers 5's own layout).
  llama3   Llama-3-Instruct's template (bos_token + header tokens, content | trim, <|eot_id|>);
           the tokenizer's post-processor adds BOS as well; template inside tokenizer_config.json.
  mistral  Mistral-7B-Instruct-v0.1's template ([INST] ... [/INST], raise_exception on roles
           that do not alternate); template in chat_template.json ({"chat_template": ...}, the
           processor layout); tokenizer_config.json carries non-default add_bos_token: false /
           add_eos_token: true next to a tokenizer.json whose post-processor adds BOS: transformers
           5.18 drops both flags when tokenizer.json exists (tokenization_utils_base.py), and the
           ids below are what it produces. The class stays TokenizersBackend.
  llava    llava-hf/llava-1.5-7b-hf's processor template (chat_template.json), which reads each
           message's content as a list of {"type": "text"/"image"} parts: HF renders the
           conversations with the text as one part; expected.json keeps the text as a string (the
           engine offers it as a part when the string form prints nothing).
  mistral-llama  The same with tokenizer_class LlamaTokenizerFast, as Mistral, Llama-2, Vicuna
           and LLaVA checkpoints have it: transformers 5's LlamaTokenizer (LlamaTokenizerFast is
           an alias) replaces tokenizer.json's normalizer and pre-tokenizer with a Metaspace
           pre-tokenizer (prepend_scheme "first" unless legacy), so no "▁" follows a special
           token written in the text ("<s>[INST]").

Run: python3 scripts/make_template_fixtures.py [--out test/fixtures/templates]
     (needs transformers; no network)
"""
import argparse
import json
import os
import shutil

from transformers import AutoTokenizer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOURCE = os.path.join(ROOT, 'assets', 'mini-ml')

# Qwen2-7B-Instruct's tokenizer_config.json chat_template (verbatim).
CHATML = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}{% endif %}"
    "{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

# Meta-Llama-3-8B-Instruct's chat_template (verbatim).
LLAMA3 = (
    "{% set loop_messages = messages %}{% for message in loop_messages %}"
    "{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + '<|eot_id|>' %}"
    "{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}"
)

# Mistral-7B-Instruct-v0.1's chat_template (verbatim).
MISTRAL = (
    "{{ bos_token }}{% for message in messages %}"
    "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
    "{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}"
    "{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token + ' ' }}"
    "{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}{% endfor %}"
)

# llava-hf/llava-1.5-7b-hf's chat_template.json (verbatim).
LLAVA = (
    "{% for message in messages %}{% if message['role'] != 'system' %}{{ message['role'].upper() + ': '}}{% endif %}"
    "{# Render all images first #}{% for content in message['content'] | selectattr('type', 'equalto', 'image') %}{{ '<image>\n' }}{% endfor %}"
    "{# Render all text next #}{% if message['role'] != 'assistant' %}{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}{{ content['text'] + ' '}}{% endfor %}"
    "{% else %}{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}{% generation %}{{ content['text'] + ' '}}{% endgeneration %}{% endfor %}{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}{{ 'ASSISTANT:' }}{% endif %}"
)

PROMPT = 'Translate this from Turkish to English:\nTurkish: Panterler savunması kaç puan verdi?'
CONVERSATIONS = {
    'user': [{'role': 'user', 'content': 'How many points did the Panthers defense surrender?'}],
    'unicode': [{'role': 'user', 'content': 'كم عدد النقاط التي استسلم لها دفاع الفهود؟\n豹队防守丢了多少分？'}],
    'translation': [{'role': 'user', 'content': PROMPT}],
    'translation-cue': [{'role': 'user', 'content': PROMPT + '\nEnglish:'}],
    'spaces': [{'role': 'user', 'content': '  padded question  '}],
    'multi': [
        {'role': 'user', 'content': 'Hello'},
        {'role': 'assistant', 'content': 'Hi! How can I help?'},
        {'role': 'user', 'content': 'Translate "Merhaba" to English.'},
    ],
    'system': [{'role': 'system', 'content': 'You translate questions.'}, {'role': 'user', 'content': 'Merhaba dünya'}],
}
# Conversations that end with the assistant's reply: rendered without the generation prompt, as a
# training example is.
TRAINING = {
    'pair': [{'role': 'user', 'content': PROMPT}, {'role': 'assistant', 'content': 'How many points did the Panthers defense give up?'}],
}
PLAIN = ['Hello world', '', 'Merhaba dünya\nEnglish: Hello world', 'Hello</s>world <s> again', ' leading space']


def as_parts(conv):
    return [{'role': m['role'], 'content': [{'type': 'text', 'text': m['content']}]} for m in conv]


def ids_of(tok, conv, gen):
    out = tok.apply_chat_template(conv, tokenize=True, add_generation_prompt=gen, return_dict=False)
    if isinstance(out, dict) or hasattr(out, 'input_ids'):
        out = out['input_ids']
    return [int(i) for i in out]


def build(name, out, template, special, eos, where, bos_flag, config_extra, parts=False):
    d = os.path.join(out, name)
    shutil.rmtree(d, ignore_errors=True)
    tok = AutoTokenizer.from_pretrained(SOURCE, add_bos_token=bos_flag)
    tok.add_special_tokens({'additional_special_tokens': special})
    if eos is not None:
        tok.eos_token = eos
    tok.save_pretrained(d)
    for f in ('chat_template.jinja', 'chat_template.json', 'special_tokens_map.json'):
        p = os.path.join(d, f)
        if os.path.exists(p):
            os.remove(p)
    cfg_path = os.path.join(d, 'tokenizer_config.json')
    cfg = json.load(open(cfg_path))
    for k in ('is_local', 'local_files_only', 'chat_template'):
        cfg.pop(k, None)
    cfg.update(config_extra)
    if where == 'jinja':
        with open(os.path.join(d, 'chat_template.jinja'), 'w') as f:
            f.write(template)
    elif where == 'config':
        cfg['chat_template'] = template
    else:
        with open(os.path.join(d, 'chat_template.json'), 'w') as f:
            json.dump({'chat_template': template}, f, indent=2)
    with open(cfg_path, 'w') as f:
        json.dump(cfg, f, indent=2, ensure_ascii=False)

    # The reference: the directory loaded back as HF loads it (chat_template.json is a processor
    # file the tokenizer does not read, so that template is set by hand).
    ref = AutoTokenizer.from_pretrained(d)
    if where == 'json':
        ref.chat_template = template
    assert ref.chat_template == template, name
    hf = as_parts if parts else (lambda c: c)
    cases = []
    for key, conv in CONVERSATIONS.items():
        if name.startswith('mistral') and any(m['role'] == 'system' for m in conv):
            try:
                ref.apply_chat_template(conv, tokenize=False, add_generation_prompt=True)
                raise AssertionError('expected an exception')
            except Exception as e:  # the template's raise_exception
                cases.append({'name': key, 'messages': conv, 'generation': True, 'error': str(e)})
            continue
        for gen in (True, False):
            cases.append({'name': key, 'messages': conv, 'generation': gen,
                          'text': ref.apply_chat_template(hf(conv), tokenize=False, add_generation_prompt=gen),
                          'ids': ids_of(ref, hf(conv), gen)})
    for key, conv in TRAINING.items():
        cases.append({'name': key, 'messages': conv, 'generation': False,
                      'text': ref.apply_chat_template(hf(conv), tokenize=False, add_generation_prompt=False),
                      'ids': ids_of(ref, hf(conv), False)})
    plain = [{'text': t, 'ids': ref(t).input_ids, 'noSpecial': ref(t, add_special_tokens=False).input_ids} for t in PLAIN]
    expected = {
        'transformers': __import__('transformers').__version__,
        'template': where,
        'bos_token': ref.bos_token, 'eos_token': ref.eos_token,
        'eos_id': ref.eos_token_id,
        'cases': cases, 'plain': plain,
    }
    with open(os.path.join(d, 'expected.json'), 'w') as f:
        json.dump(expected, f, indent=1, ensure_ascii=False)
    print(f'{d}: {len(cases)} conversations, template from {where}')


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--out', default=os.path.join(ROOT, 'test', 'fixtures', 'templates'))
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    build('chatml', a.out, CHATML, ['<|im_start|>', '<|im_end|>'], '<|im_end|>', 'jinja', False, {})
    build('llama3', a.out, LLAMA3, ['<|start_header_id|>', '<|end_header_id|>', '<|eot_id|>'], '<|eot_id|>', 'config', True, {})
    build('mistral', a.out, MISTRAL, [], None, 'json', True,
          {'add_bos_token': False, 'add_eos_token': True})
    build('llava', a.out, LLAVA, [], None, 'json', True, {}, parts=True)
    build('mistral-llama', a.out, MISTRAL, [], None, 'json', True,
          {'tokenizer_class': 'LlamaTokenizerFast', 'add_bos_token': False, 'add_eos_token': True})


if __name__ == '__main__':
    main()
