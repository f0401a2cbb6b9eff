// Generates the notebooks (*.ipynb) from the walk-through scripts (*.fsx), the one source of both:
//   dotnet fsi generate.fsx            writes 01-quickstart.ipynb, ... next to their scripts
//   dotnet fsi generate.fsx --check    exits 1 (naming the files) when a notebook is out of date
// Script format: a `(**` line opens a Markdown cell that a `*)` line closes; everything else is F#
// code, one cell per stretch between Markdown cells, split further at lines that are exactly `// ----`.
// The notebooks are written with empty outputs (run-all.sh writes executed copies to out/).

open System
open System.IO
open System.Text.Json
open System.Text.Json.Nodes

let folder = __SOURCE_DIRECTORY__
let check = fsi.CommandLineArgs |> Array.contains "--check"

let scripts =
    Directory.GetFiles(folder, "*.fsx")
    |> Array.filter (fun f -> Text.RegularExpressions.Regex.IsMatch(Path.GetFileName f, @"^\d\d-.*\.fsx$"))
    |> Array.sort

type Cell =
    | Markdown of string list
    | Code of string list

let cellsOf (path: string) =
    let lines = File.ReadAllLines path |> List.ofArray
    let trim (ls: string list) =
        ls |> List.skipWhile String.IsNullOrWhiteSpace |> List.rev |> List.skipWhile String.IsNullOrWhiteSpace |> List.rev

    let rec go (acc: Cell list) (code: string list) (lines: string list) =
        let flush () =
            match trim (List.rev code) with
            | [] -> acc
            | c -> Code c :: acc

        match lines with
        | [] -> List.rev (flush ())
        | l :: rest when l.Trim() = "(**" ->
            let body = rest |> List.takeWhile (fun x -> x.Trim() <> "*)")
            let after = rest |> List.skipWhile (fun x -> x.Trim() <> "*)")

            if after.IsEmpty then
                failwithf "%s: a `(**` Markdown block is never closed by a `*)` line" path

            go (Markdown(trim body) :: flush ()) [] after.Tail
        | l :: rest when l.Trim() = "// ----" -> go (flush ()) [] rest
        | l :: rest -> go acc (l :: code) rest

    go [] [] lines

let source (ls: string list) =
    let n = ls.Length
    JsonArray(ls |> List.mapi (fun i l -> JsonValue.Create(if i < n - 1 then l + "\n" else l) :> JsonNode) |> Array.ofList)

let notebook (cells: Cell list) =
    let cell (c: Cell) =
        let o = JsonObject()

        match c with
        | Markdown ls ->
            o["cell_type"] <- JsonValue.Create "markdown"
            o["metadata"] <- JsonObject()
            o["source"] <- source ls
        | Code ls ->
            o["cell_type"] <- JsonValue.Create "code"
            o["execution_count"] <- null
            o["metadata"] <- JsonNode.Parse """{"dotnet_interactive":{"language":"fsharp"},"polyglot_notebook":{"kernelName":"fsharp"}}"""
            o["outputs"] <- JsonArray()
            o["source"] <- source ls

        o :> JsonNode

    let nb = JsonObject()
    nb["cells"] <- JsonArray(cells |> List.map cell |> Array.ofList)
    nb["metadata"] <-
        JsonNode.Parse
            """{"kernelspec":{"display_name":".NET (F#)","language":"F#","name":".net-fsharp"},"language_info":{"file_extension":".fs","mimetype":"text/x-fsharp","name":"F#","pygments_lexer":"fsharp"},"polyglot_notebook":{"kernelInfo":{"defaultKernelName":"fsharp","items":[{"aliases":[],"languageName":"fsharp","name":"fsharp"}]}}}"""
    nb["nbformat"] <- JsonValue.Create 4
    nb["nbformat_minor"] <- JsonValue.Create 5
    nb.ToJsonString(JsonSerializerOptions(WriteIndented = true, Encoder = Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping)).Replace("\r\n", "\n") + "\n"

let mutable stale = []

for script in scripts do
    let target = Path.ChangeExtension(script, ".ipynb")
    let text = notebook (cellsOf script)

    if check then
        if not (File.Exists target) || File.ReadAllText target <> text then
            stale <- Path.GetFileName target :: stale
    elif not (File.Exists target) || File.ReadAllText target <> text then
        File.WriteAllText(target, text)
        printfn "wrote %s" (Path.GetFileName target)

if not stale.IsEmpty then
    eprintfn "out of date (run `dotnet fsi Notebooks/generate.fsx`): %s" (String.Join(", ", List.rev stale))
    exit 1
