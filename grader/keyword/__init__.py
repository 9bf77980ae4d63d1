"""The keyword grader: offline and deterministic.

`lexicon` reads words (stems, abbreviations, keyword phrases, word lists); `text` analyses an answer (tokens,
sentences, table rows and code lines, list-like fragments); `patterns` compiles a rubric's keywords
and indexes them; `vocabulary` holds what a rubric looks for (typo correction); `matcher` finds the patterns in an
answer; `statements` reads what a keyword's sentence says (negation, figures, templates, narrative); `grader`
turns the hits into verdicts; `reference` grades against a reference answer alone; `injection`
spots text addressed to the grader.
"""
