module Snn.Dsl.Tests.Pipeline.ShardTests

open Expecto
open FsCheck
open FsCheck.FSharp
open Snn.Dsl.Pipeline

[<Tests>]
let tests =
    testList
        "Shard"
        [ test "i/n parses for 1 <= i <= n, and anything else is refused with the text and the form" {
              Expect.equal (Shard.parse "2/3") (Ok { Index = 2; Count = 3 }) "2/3"
              Expect.equal (string { Index = 2; Count = 3 }) "2/3" "printed back"

              for bad in [ "0/2"; "3/2"; "1/0"; "a/b"; "1"; "1/2/3"; "-1/2" ] do
                  match Shard.parse bad with
                  | Ok s -> failtestf "%s parsed as %O" bad s
                  | Error m -> Expect.stringContains m bad "names the text"
          }

          testProperty "the shards cover the images once, in order, each starting on a batch boundary"
          <| Prop.forAll
              (Gen.zip3 (Gen.choose (0, 5000)) (Gen.choose (1, 300)) (Gen.choose (1, 12))
               |> Arb.fromGen)
              (fun (images, batch, n) ->
                  let slices = [ for i in 1..n -> Shard.images { Index = i; Count = n } images batch ]

                  let contiguous =
                      slices
                      |> List.fold
                          (fun (ok, next) (start, count) -> ok && start = next && count >= 0, start + count)
                          (true, 0)

                  fst contiguous
                  && snd contiguous = images
                  && slices |> List.forall (fun (start, _) -> start % batch = 0 || start = images))

          test "without a shard the slice is everything" { Expect.equal (Shard.slice None 777 256) (0, 777) "all" } ]
