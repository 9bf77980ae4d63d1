"""The question bank: `loader` (where it lives, reading its YAML, looking questions and rubrics up),
`validation` (`grade rubrics check`) and `importer` (a Markdown list of questions as a new bank)."""
