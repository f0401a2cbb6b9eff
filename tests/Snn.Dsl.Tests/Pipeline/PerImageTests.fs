module Snn.Dsl.Tests.Pipeline.PerImageTests

open Expecto
open FsCheck
open FsCheck.FSharp
open Snn.Dsl.Pipeline

[<Tests>]
let tests =
    testList
        "PerImage"
        [ test "bit i is byte i / 8, bit i % 8, least significant first" {
              // Images 0 and 2 right: 0b101 = 5; image 9 right: the second byte is 0b10 = 2.
              let hits = Array.init 10 (fun i -> i = 0 || i = 2 || i = 9)
              Expect.equal (PerImage.encode hits) (System.Convert.ToBase64String [| 5uy; 2uy |]) "two bytes"
              Expect.equal (PerImage.encode [||]) "" "no images"
              Expect.equal (PerImage.encode (Array.create 10000 true)).Length 1668 "10,000 images in 1,668 characters"
          }

          testProperty "decode inverts encode for any results"
          <| Prop.forAll
              (Arb.fromGen (
                  Gen.choose (0, 3000)
                  |> Gen.bind (fun n -> Gen.arrayOfLength n (Gen.elements [ false; true ]))
              ))
              (fun hits -> Expect.equal (PerImage.decode hits.Length (PerImage.encode hits)) (Ok hits) "round trip")

          test "damaged or missing results are refused with the reason" {
              let text = PerImage.encode (Array.create 10 true)
              Expect.equal (PerImage.decode 10 null) (Error "no per-image results recorded") "absent (an older record)"

              Expect.equal
                  (PerImage.decode 10 "not base64!")
                  (Error "the per-image results are not valid base64")
                  "not base64"

              Expect.equal
                  (PerImage.decode 20 text)
                  (Error "the per-image results hold 2 bytes, expected 3 for 20 images")
                  "wrong length"

              Expect.equal
                  (PerImage.decode 9 text)
                  (Error "the per-image results have bits set after the last image")
                  "bits after the last image"
          } ]
