package config

import (
	"fmt"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Problem is one configuration error: where it is and what is wrong.
type Problem struct {
	Path string // field path, e.g. routes[3].department
	Line int    // 1-based line in the file; 0 if unknown
	Msg  string
}

func (p Problem) String() string {
	var b strings.Builder
	if p.Path != "" {
		b.WriteString(p.Path)
		b.WriteString(": ")
	}
	b.WriteString(p.Msg)
	if p.Line > 0 {
		fmt.Fprintf(&b, " (line %d)", p.Line)
	}
	return b.String()
}

// Errors is every problem found in a configuration, in file order.
type Errors []Problem

func (e Errors) Error() string {
	lines := make([]string, len(e))
	for i, p := range e {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// decoder walks a YAML node tree and a Go value together, so that every
// problem can be reported with its path and line and none stops the walk.
type decoder struct {
	problems Errors
	// deferred holds problems with secrets (an unset environment variable,
	// an unreadable *_file); they count only at a level that needs the
	// section they are in, so `check` works without the service's secrets.
	deferred Errors
	lines    map[string]int // field path → line, for validation messages
	getenv   func(string) (string, bool)
}

var (
	secretType   = reflect.TypeOf(Secret{})
	durationType = reflect.TypeOf(Duration(0))
	envRef       = regexp.MustCompile(`\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)
)

func (d *decoder) fail(path string, n *yaml.Node, format string, args ...any) {
	line := 0
	if n != nil {
		line = n.Line
	}
	d.problems = append(d.problems, Problem{Path: path, Line: line, Msg: fmt.Sprintf(format, args...)})
}

// expand replaces ${VAR} with the environment's value and $$ with $.
func (d *decoder) expand(path string, n *yaml.Node) string {
	return envRef.ReplaceAllStringFunc(n.Value, func(m string) string {
		if m == "$$" {
			return "$"
		}
		name := m[2 : len(m)-1]
		v, ok := d.getenv(name)
		if !ok {
			d.deferred = append(d.deferred, Problem{Path: path, Line: n.Line, Msg: fmt.Sprintf("environment variable %s is not set", name)})
		}
		return v
	})
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "empty"
		}
		return fmt.Sprintf("%q", n.Value)
	default:
		return "an alias"
	}
}

// yamlFields maps the yaml keys of struct type t to field indexes.
func yamlFields(t reflect.Type) (map[string]int, []string) {
	m := map[string]int{}
	var names []string
	for i := 0; i < t.NumField(); i++ {
		tag := strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0]
		if tag == "" || tag == "-" {
			continue
		}
		m[tag] = i
		names = append(names, tag)
	}
	return m, names
}

func (d *decoder) decode(path string, n *yaml.Node, v reflect.Value) {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		// An empty value leaves the default. An implicit one ("key:" or
		// "? key" with nothing after) can be placed by the parser on the
		// line after the document's end: keep the key's line.
		if _, ok := d.lines[path]; !ok || n.Value != "" {
			d.lines[path] = n.Line
		}
		return
	}
	d.lines[path] = n.Line
	switch v.Type() {
	case secretType:
		if n.Kind != yaml.ScalarNode {
			d.fail(path, n, "must be a string, not %s", kindName(n))
			return
		}
		v.Set(reflect.ValueOf(Secret{value: d.expand(path, n)}))
		return
	case durationType:
		if n.Kind != yaml.ScalarNode {
			d.fail(path, n, "must be a duration such as 15m, not %s", kindName(n))
			return
		}
		dur, err := ParseDuration(d.expand(path, n))
		if err != nil {
			d.fail(path, n, "%v", err)
			return
		}
		v.Set(reflect.ValueOf(dur))
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.decode(path, n, v.Elem())
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			d.fail(path, n, "must be a mapping of keys, not %s", kindName(n))
			return
		}
		fields, names := yamlFields(v.Type())
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			if k.Kind != yaml.ScalarNode {
				where := path
				if where == "" {
					where = "(top level)"
				}
				d.fail(where, k, "keys must be plain names, not %s", kindName(k))
				continue
			}
			name := k.Value
			if name == "" {
				name = `""` // still a path a reader can find
			}
			sub := name
			if path != "" {
				sub = path + "." + name
			}
			if seen[k.Value] {
				d.fail(sub, k, "key given twice")
				continue
			}
			seen[k.Value] = true
			idx, ok := fields[k.Value]
			if !ok {
				d.fail(sub, k, "unknown key %q (known keys here: %s)", k.Value, strings.Join(sorted(names), ", "))
				continue
			}
			d.lines[sub] = k.Line
			d.decode(sub, val, v.Field(idx))
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.fail(path, n, "must be a list, not %s", kindName(n))
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, item := range n.Content {
			d.decode(fmt.Sprintf("%s[%d]", path, i), item, s.Index(i))
		}
		v.Set(s)
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			d.fail(path, n, "must be a string, not %s", kindName(n))
			return
		}
		v.SetString(d.expand(path, n))
	case reflect.Bool:
		b, err := strconv.ParseBool(d.scalar(path, n))
		if err != nil {
			d.fail(path, n, "must be true or false, not %s", kindName(n))
			return
		}
		v.SetBool(b)
	case reflect.Int:
		i, err := strconv.Atoi(d.scalar(path, n))
		if err != nil {
			d.fail(path, n, "must be a whole number, not %s", kindName(n))
			return
		}
		v.SetInt(int64(i))
	case reflect.Float64:
		f, err := strconv.ParseFloat(d.scalar(path, n), 64)
		if err != nil {
			d.fail(path, n, "must be a number, not %s", kindName(n))
			return
		}
		v.SetFloat(f)
	default:
		d.fail(path, n, "cannot decode into %s", v.Type())
	}
}

func (d *decoder) scalar(path string, n *yaml.Node) string {
	if n.Kind != yaml.ScalarNode {
		return "\x00" // never parses
	}
	return d.expand(path, n)
}

func sorted(s []string) []string {
	c := append([]string(nil), s...)
	sort.Strings(c)
	return c
}

// line returns the line of path, or of its nearest parent that has one.
func (d *decoder) line(path string) int {
	for path != "" {
		if l, ok := d.lines[path]; ok {
			return l
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return 0
}

// resolveFiles fills each Secret from its *_file twin, walking every
// struct reachable from v.
func (d *decoder) resolveFiles(path string, v reflect.Value, readFile func(string) ([]byte, error)) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			d.resolveFiles(path, v.Elem(), readFile)
		}
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			d.resolveFiles(fmt.Sprintf("%s[%d]", path, i), v.Index(i), readFile)
		}
	case reflect.Struct:
		if v.Type() == secretType || v.Type() == durationType {
			return
		}
		fields, _ := yamlFields(v.Type())
		for key, idx := range fields {
			sub := key
			if path != "" {
				sub = path + "." + key
			}
			f := v.Field(idx)
			if f.Type() == secretType {
				fileIdx, ok := fields[key+"_file"]
				if !ok {
					continue
				}
				file := v.Field(fileIdx).String()
				if file == "" {
					continue
				}
				fpath := sub + "_file"
				if f.Interface().(Secret).IsSet() {
					d.deferred = append(d.deferred, Problem{Path: sub, Line: d.line(sub), Msg: fmt.Sprintf("give either %s or %s, not both", key, key+"_file")})
					continue
				}
				b, err := readFile(file)
				if err != nil {
					d.deferred = append(d.deferred, Problem{Path: fpath, Line: d.line(fpath), Msg: fmt.Sprintf("cannot read secret file: %v", err)})
					continue
				}
				f.Set(reflect.ValueOf(Secret{value: strings.TrimRight(string(b), "\r\n")}))
				continue
			}
			d.resolveFiles(sub, f, readFile)
		}
	}
}

// Options change how Load reads a file; tests use them.
type Options struct {
	Getenv   func(string) (string, bool)  // default os.LookupEnv
	ReadFile func(string) ([]byte, error) // default os.ReadFile
}

// Parse decodes and validates data (the contents of a file at path) at the
// given level. It returns the configuration even when it has problems, so
// that callers can show a summary; err is an Errors listing all of them.
func Parse(data []byte, path string, level Level, opt Options) (*Config, error) {
	if opt.Getenv == nil {
		opt.Getenv = os.LookupEnv
	}
	if opt.ReadFile == nil {
		opt.ReadFile = os.ReadFile
	}
	cfg := &Config{Path: path}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		if line := tabIndented(data); line > 0 && line <= yamlErrorLine(err) {
			return cfg, Errors{{Msg: fmt.Sprintf("not valid YAML: line %d: indentation uses a tab; YAML needs spaces", line)}}
		}
		return cfg, Errors{{Msg: "not valid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}}
	}
	d := &decoder{lines: map[string]int{}, getenv: opt.Getenv}
	if len(root.Content) == 0 {
		return cfg, Errors{{Msg: "the file is empty"}}
	}
	d.decode("", root.Content[0], reflect.ValueOf(cfg).Elem())
	d.resolveFiles("", reflect.ValueOf(cfg).Elem(), opt.ReadFile)
	cfg.applyDefaults()
	v := &validator{d: d, cfg: cfg, level: level}
	v.validate()
	for _, p := range d.deferred {
		if level.needs(p.Path) && cfg.chatNeeds(p.Path) {
			d.addDeferred(p)
		}
	}
	if len(d.problems) > 0 {
		sort.SliceStable(d.problems, func(i, j int) bool {
			li, lj := d.problems[i].Line, d.problems[j].Line
			if li == 0 || lj == 0 {
				return li != 0 && lj == 0
			}
			return li < lj
		})
		return cfg, d.problems
	}
	return cfg, nil
}

// addDeferred adds p, a problem with a secret's source (an unset variable,
// an unreadable file), to the problems. When validation already said the
// secret is required, the two become one problem: the cause first, then
// what the secret is for.
func (d *decoder) addDeferred(p Problem) {
	for i, q := range d.problems {
		if q.Path == p.Path && strings.HasPrefix(q.Msg, "required") {
			d.problems[i].Msg = p.Msg + "; " + q.Msg
			if d.problems[i].Line == 0 {
				d.problems[i].Line = p.Line
			}
			return
		}
	}
	d.problems = append(d.problems, p)
}

// tabIndented returns the first line (1-based) whose indentation holds a
// tab, or 0. YAML forbids tabs in indentation, and the parser's own
// message ("found character that cannot start any token") does not say so.
func tabIndented(data []byte) int {
	for i, line := range strings.Split(string(data), "\n") {
		indent := line[:len(line)-len(strings.TrimLeft(line, " \t"))]
		if strings.Contains(indent, "\t") && strings.TrimSpace(line) != "" {
			return i + 1
		}
	}
	return 0
}

var yamlLine = regexp.MustCompile(`line ([0-9]+):`)

// yamlErrorLine is the line a YAML parser error names, or the largest int
// when it names none.
func yamlErrorLine(err error) int {
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		if n, err := strconv.Atoi(m[1]); err == nil {
			return n
		}
	}
	return int(^uint(0) >> 1)
}

// Load reads and validates the file at path.
func Load(path string, level Level) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return Parse(data, path, level, Options{})
}
