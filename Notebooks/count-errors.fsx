// Prints the number of code cells of an executed notebook that have an error output
// (used by run-all.sh: dotnet-repl's exit code alone is not trusted to report every failure).
open System.IO
open System.Text.Json

let path = fsi.CommandLineArgs[1]

if not (File.Exists path) then
    eprintfn "%s: no executed notebook (expected the output of nbconvert or dotnet repl)" path
    exit 2

let doc = JsonDocument.Parse(File.ReadAllText path)

let failing =
    doc.RootElement.GetProperty("cells").EnumerateArray()
    |> Seq.filter (fun c ->
        c.GetProperty("cell_type").GetString() = "code"
        && (c.GetProperty("outputs").EnumerateArray() |> Seq.exists (fun o -> o.GetProperty("output_type").GetString() = "error")))
    |> Seq.length

printfn "%d" failing
