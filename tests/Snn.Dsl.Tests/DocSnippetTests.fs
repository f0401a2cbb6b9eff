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

          test "Notebooks/Setup.fsx loads every Snn.Dsl source file in the project's compile order" {
              let root = repoRoot ()

              let compiled =
                  File.ReadAllLines(Path.Combine(root, "Snn.Dsl", "Snn.Dsl.fsproj"))
                  |> Array.choose (fun l ->
                      let l = l.Trim()

                      if l.StartsWith "<Compile Include=\"" then
                          Some(l.Split('"').[1].Replace('\\', '/'))
                      else
                          None)
                  |> List.ofArray

              let loaded =
                  File.ReadAllLines(Path.Combine(root, "Notebooks", "Setup.fsx"))
                  |> Array.choose (fun l ->
                      let prefix = "#load \"../Snn.Dsl/"

                      if l.StartsWith prefix then
                          Some(l.Substring(prefix.Length).TrimEnd('"'))
                      else
                          None)
                  |> List.ofArray

              Expect.isNonEmpty compiled "Snn.Dsl.fsproj lists its sources"
              Expect.equal loaded compiled "the notebooks' #load list is Snn.Dsl.fsproj's Compile list"
          } ]
