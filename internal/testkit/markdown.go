package testkit

import "strings"

// YAMLBlocks returns the contents of the ```yaml fenced blocks of a
// Markdown text, in order: the examples documentation tests check.
func YAMLBlocks(md string) []string {
	var blocks, cur []string
	in := false
	for _, line := range strings.Split(md, "\n") {
		switch {
		case !in && strings.TrimSpace(line) == "```yaml":
			in, cur = true, nil
		case in && strings.TrimSpace(line) == "```":
			in = false
			blocks = append(blocks, strings.Join(cur, "\n"))
		case in:
			cur = append(cur, line)
		}
	}
	return blocks
}
