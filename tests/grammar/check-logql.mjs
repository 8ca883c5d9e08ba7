// Reads a JSON array of LogQL queries on stdin and prints, as JSON, one result
// per query: whether Grafana's LogQL grammar (@grafana/lezer-logql) parses it
// without error nodes, and where the first error node is.
import { parser } from '@grafana/lezer-logql';

function check(query) {
  const tree = parser.parse(query);
  const errors = [];
  tree.iterate({
    enter(node) {
      if (node.type.isError) {
        errors.push({ from: node.from, to: node.to, near: query.slice(Math.max(0, node.from - 10), node.to + 10) });
      }
    },
  });
  return { query, ok: errors.length === 0, errors, tree: tree.toString() };
}

let input = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => { input += chunk; });
process.stdin.on('end', () => {
  const queries = JSON.parse(input);
  if (!Array.isArray(queries) || !queries.every((q) => typeof q === 'string')) {
    process.stderr.write('expected a JSON array of strings on stdin\n');
    process.exit(2);
  }
  process.stdout.write(JSON.stringify(queries.map(check)) + '\n');
});
