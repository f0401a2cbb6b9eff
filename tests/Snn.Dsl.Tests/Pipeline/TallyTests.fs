module Snn.Dsl.Tests.Pipeline.TallyTests

open System.Text.Json
open Expecto
open FsCheck
open FsCheck.FSharp
open Snn.Dsl.Pipeline
open Snn.Dsl.Tests.Common

/// Finite doubles of every magnitude, including subnormals and both signs.
let private finite =
    Gen.oneof
        [ ArbMap.defaults |> ArbMap.generate<NormalFloat> |> Gen.map float
          Gen.elements [ 0.0; -0.0; 5e-324; -5e-324; 1e308; -1e308; 0.1; 1.0 / 3.0 ] ]

let private sumOf (xs: float list) =
    xs |> List.fold (fun s x -> s + ExactSum.Of x) ExactSum.Zero

/// The tally of an evaluation at T = 2 of images whose per-image results are `hits` (no layers).
let private tallyOf (hits: bool[]) : EvaluationTally =
    { T = 2
      Correct = hits |> Array.sumBy (fun h -> if h then 1L else 0L)
      Seen = int64 hits.Length
      Sops = ExactSum.Of(float hits.Length)
      Analog = ExactSum.Zero
      Macs = 1.0
      Stage = None
      Layers = [||]
      PerImageCorrect = PerImage.encode hits }

[<Tests>]
let tests =
    testList
        "Tally"
        [ testProperty "an exact sum does not depend on how the terms are split and grouped"
          <| Prop.forAll (Gen.zip (Gen.listOf finite) (Gen.choose (0, 50)) |> Arb.fromGen) (fun (xs, cut) ->
              let cut = min cut xs.Length
              let whole = sumOf xs
              let parts = sumOf (List.take cut xs) + sumOf (List.rev (List.skip cut xs))
              whole = parts && whole.Value = parts.Value)

          testProperty "a single double comes back exactly"
          <| Prop.forAll (Arb.fromGen finite) (fun x -> (ExactSum.Of x).Value = x)

          test "0.1 + 0.2 + 0.3 is rounded once, unlike the floating-point sum in one of its orders" {
              let s = sumOf [ 0.1; 0.2; 0.3 ]
              let t = sumOf [ 0.3; 0.2; 0.1 ]
              Expect.equal s.Value t.Value "the same in both orders"
              Expect.notEqual ((0.1 + 0.2) + 0.3) ((0.3 + 0.2) + 0.1) "floating-point addition is not associative"
          }

          test "an exact sum is written as a string and read back" {
              let s = sumOf [ 1e300; -3.5; 5e-324 ]
              let json = JsonSerializer.Serialize s
              Expect.stringStarts json "\"" "a JSON string"
              Expect.equal (JsonSerializer.Deserialize<ExactSum> json) s "round trip"
          }

          test "a negative exact sum written under a Swedish locale is read under any other" {
              let s = sumOf [ -3.5; 1e-300 ]
              // Swedish formatting writes the minus sign as U+2212, which the invariant culture cannot read.
              let json = inCulture "sv-SE" (fun () -> JsonSerializer.Serialize s)
              Expect.stringStarts json "\"-" "an ASCII minus sign"

              for culture in [ "en-US"; "sv-SE"; "de-DE" ] do
                  Expect.equal (inCulture culture (fun () -> JsonSerializer.Deserialize<ExactSum> json)) s culture
          }

          testProperty
              "the tallies of consecutive parts sum to the whole's tally: counts add, per-image results concatenate in order"
          <| Prop.forAll (Arb.fromGen Generators.perImageParts) (fun (hits, sizes) ->
              let starts = List.scan (+) 0 sizes

              let parts =
                  List.map2 (fun s n -> tallyOf (Array.sub hits s n)) (List.take sizes.Length starts) sizes

              let sum = Tally.sum parts
              sum = tallyOf hits && Tally.hits sum = hits)

          test "tallies of other T, or without per-image results, are refused naming T" {
              let a = tallyOf [| true; false; true |]

              Expect.throwsC (fun () -> Tally.add a { a with T = 4 } |> ignore) (fun e ->
                  Expect.stringContains e.Message "T = 4" "names the T")

              Expect.throwsC (fun () -> Tally.add a { a with PerImageCorrect = null } |> ignore) (fun e ->
                  Expect.stringContains
                      e.Message
                      "T = 2 of 3 images: no per-image results recorded"
                      "says what is missing")

              Expect.throwsC
                  (fun () ->
                      Tally.add
                          a
                          { a with
                              PerImageCorrect = PerImage.encode (Array.create 9 true) }
                      |> ignore)
                  (fun e -> Expect.stringContains e.Message "expected 1 for 3 images" "a bitset of another size")

              Expect.throwsC
                  (fun () ->
                      Tally.add
                          a
                          { a with
                              PerImageCorrect = PerImage.encode [| true; true; true |] }
                      |> ignore)
                  (fun e -> Expect.stringContains e.Message "count 3 right, its count 2" "disagrees with the count")
          }

          test "non-finite values are refused, naming the value" {
              Expect.throwsC (fun () -> ExactSum.Of nan |> ignore) (fun e ->
                  Expect.stringContains e.Message "NaN" "names it")
          } ]
