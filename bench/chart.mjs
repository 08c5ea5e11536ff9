// A small SVG bar chart: overhead at N = 1e5, C = 16 and memory per queued task, each relative to p-limit.
export function chart(overhead, memory) {
  const bars = [
    ...Object.entries(overhead)
      .filter(([, values]) => values['100000/16'] !== undefined)
      .map(([name, values]) => [`${name} (ns/task)`, values['100000/16'] / overhead['p-limit']['100000/16']]),
    ...Object.entries(memory).map(([mode, bytes]) => [`${mode} (bytes/queued task)`, bytes / memory['p-limit']]),
  ];
  const width = 720;
  const rowHeight = 26;
  const left = 260;
  const max = Math.max(...bars.map(([, value]) => value), 1);
  const scale = (width - left - 70) / max;
  const rows = bars
    .map(([label, value], i) => {
      const y = 40 + i * rowHeight;
      const fill = label.startsWith('duta') ? '#2f6fdb' : '#9aa4b2';
      return `<text x="${left - 8}" y="${y + 14}" text-anchor="end">${label}</text><rect x="${left}" y="${y}" width="${(value * scale).toFixed(1)}" height="18" fill="${fill}"/><text x="${left + value * scale + 6}" y="${y + 14}">${value.toFixed(2)}×</text>`;
    })
    .join('\n');
  const oneX = left + scale;
  const height = 60 + bars.length * rowHeight;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">
<text x="10" y="20" font-size="14" font-weight="bold">Relative to raw p-limit (1.00×; lower is better): overhead at N=1e5, C=16, and memory</text>
<line x1="${oneX}" y1="32" x2="${oneX}" y2="${height - 10}" stroke="#c33" stroke-dasharray="4 3"/>
${rows}
</svg>
`;
}
