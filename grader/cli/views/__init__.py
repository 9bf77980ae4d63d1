"""Rich views of grades, batches and the history. They build renderables; the commands print them."""
