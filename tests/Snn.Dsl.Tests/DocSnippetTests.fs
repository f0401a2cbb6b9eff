module Snn.Dsl.Tests.DocSnippetTests

open System
open System.IO
open Expecto
open Snn.Dsl
open Snn.Dsl.Tests.Common

let private between (startMarker: string) (endMarker: string) (lines: string list) =
    lines
    |> List.skipWhile (fun l -> not (l.Trim().StartsWith startMarker))
    |> List.tail
    |> List.takeWhile (fun l -> not (l.Trim().StartsWith endMarker))

[<Tests>]
let tests =
    testList
        "DocSnippet"
        [ test "docs/DSL.md shows exactly the compiled snippet, in under 15 lines of F#" {
              let root = repoRoot ()

              let source =
                  File.ReadAllLines(Path.Combine(root, "tests", "Snn.Dsl.Tests", "DocSnippet.fs"))
                  |> List.ofArray
                  |> between "// snippet-start" "// snippet-end"

              let doc =
                  File.ReadAllLines(Path.Combine(root, "docs", "DSL.md"))
                  |> List.ofArray
                  |> between "```fsharp" "```"

              Expect.equal doc source "docs/DSL.md's first F# block is DocSnippet.fs's snippet"
              let code = source |> List.filter (fun l -> l.Trim() <> "")
              Expect.isLessThan code.Length 15 "non-blank lines"
          }

          test "the snippet's network is BENCHMARKS.md's fmnistVgg and its pipeline is the bench profile's" {
              let shapes spec =
                  Network.validate spec
                  |> Result.map (fun i -> i.Parameters, i.Layers |> List.map _.OutputShape)

              Expect.equal (shapes DocSnippet.fmnistVgg) (shapes Presets.fmnistVgg) "same shapes and parameters"
              Expect.equal DocSnippet.dualPhase Profiles.bench.Pipeline "same pipeline"
              Expect.isEmpty (Pipeline.Plan.problems Presets.fmnistVgg None DocSnippet.dualPhase) "valid"
          }

          test
              "Notebooks/ uses the packages: no #load of library sources, Snn.Dsl from the local feed at the build's version" {
              let root = repoRoot ()
              let notebooks = Path.Combine(root, "Notebooks")

              let sources =
                  [ yield! Directory.GetFiles(notebooks, "*.fsx")
                    yield! Directory.GetFiles(notebooks, "*.ipynb") ]

              // The lines of a script, or of a notebook's code cells.
              let lines (path: string) =
                  if path.EndsWith ".ipynb" then
                      use doc = Text.Json.JsonDocument.Parse(File.ReadAllText path)

                      [| for cell in doc.RootElement.GetProperty("cells").EnumerateArray() do
                             for line in cell.GetProperty("source").EnumerateArray() -> line.GetString() |]
                  else
                      File.ReadAllLines path

              let directives (path: string) =
                  lines path
                  |> Array.map _.Trim()
                  |> Array.filter (fun l -> l.StartsWith "#load" || l.StartsWith "#r" || l.StartsWith "#I")

              let all =
                  [ for f in sources do
                        for d in directives f -> Path.GetFileName f, d ]

              let loadsOutside =
                  all
                  |> List.filter (fun (_, d) -> d.StartsWith "#load" && (d.Contains "/" || d.Contains "\\"))

              Expect.isEmpty loadsOutside "#load names only helper scripts of Notebooks/ itself"

              let dllReferences =
                  all |> List.filter (fun (_, d) -> d.StartsWith "#r" && d.Contains ".dll")

              Expect.isEmpty dllReferences "no #r of a built assembly: the packages instead"

              let walkThroughs =
                  Directory.GetFiles(notebooks, "*.fsx")
                  |> Array.filter (fun f -> Char.IsDigit(Path.GetFileName(f)[0]))

              Expect.isNonEmpty walkThroughs "the walk-throughs exist"

              for f in walkThroughs do
                  Expect.contains
                      (directives f)
                      "#r \"nuget: Snn.Dsl\""
                      $"{Path.GetFileName f} references the Snn.Dsl package"

              let props = Xml.Linq.XDocument.Load(Path.Combine(root, "Directory.Build.props"))

              let version =
                  props.Descendants(Xml.Linq.XName.Get "Version") |> Seq.exactlyOne |> _.Value

              let feed =
                  Xml.Linq.XDocument.Load(Path.Combine(notebooks, "nuget.config")).Descendants(Xml.Linq.XName.Get "add")
                  |> Seq.map (fun e -> e.Attribute(Xml.Linq.XName.Get "value").Value)
                  |> Seq.exactlyOne

              Expect.equal
                  (Path.GetFullPath(Path.Combine(notebooks, feed)).TrimEnd('/'))
                  (Path.Combine(root, "bin", "packages"))
                  "Notebooks/nuget.config names the local feed bin/packages"

              for id in [ "Snn.Core"; "Snn.Dsl" ] do
                  let package = Path.Combine(root, "bin", "packages", $"{id}.{version}.nupkg")
                  Expect.isTrue (File.Exists package) $"the Release build packed {package}"
          }

          test "the Snn.Dsl package asks for an FSharp.Core that the notebook kernels carry (10.0)" {
              let root = repoRoot ()
              let props = Xml.Linq.XDocument.Load(Path.Combine(root, "Directory.Build.props"))

              let version =
                  props.Descendants(Xml.Linq.XName.Get "Version") |> Seq.exactlyOne |> _.Value

              let package = Path.Combine(root, "bin", "packages", $"Snn.Dsl.{version}.nupkg")
              use zip = IO.Compression.ZipFile.OpenRead package
              use stream = zip.GetEntry("Snn.Dsl.nuspec").Open()
              let nuspec = Xml.Linq.XDocument.Load stream

              let fsharpCore =
                  nuspec.Descendants()
                  |> Seq.filter (fun e ->
                      e.Name.LocalName = "dependency"
                      && e.Attribute(Xml.Linq.XName.Get "id").Value = "FSharp.Core")
                  |> Seq.exactlyOne
                  |> fun e -> e.Attribute(Xml.Linq.XName.Get "version").Value

              // A bare version in a .nuspec is a lower bound; "[V]" would pin it exactly.
              Expect.isFalse (fsharpCore.StartsWith "[") $"FSharp.Core {fsharpCore} is a lower bound, not an exact pin"
              let v = Version.Parse(fsharpCore.Trim('[', ']', '(', ')').Split(',')[0])

              Expect.isLessThan
                  (v.Major, v.Minor)
                  (10, 1)
                  $"FSharp.Core >= {fsharpCore} loads in a kernel carrying 10.0"

              let compiledAgainst =
                  typeof<NetworkInfo>.Assembly.GetReferencedAssemblies()
                  |> Array.find (fun a -> a.Name = "FSharp.Core")
                  |> _.Version

              Expect.isLessThan
                  (compiledAgainst.Major, compiledAgainst.Minor)
                  (10, 1)
                  $"Snn.Dsl.dll is compiled against FSharp.Core {compiledAgainst} (a kernel carrying 10.0 refuses 10.1)"
          } ]
