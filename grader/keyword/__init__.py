"""The keyword grader: offline and deterministic.

`text` analyses an answer (tokens, stems, sentences, list-like fragments); `patterns` compiles a rubric's keywords
and indexes them; `vocabulary` holds what a rubric looks for (typo correction); `matcher` finds the patterns in an
answer; `grader` turns the hits into verdicts; `reference` grades against a reference answer alone; `injection`
spots text addressed to the grader.
"""
