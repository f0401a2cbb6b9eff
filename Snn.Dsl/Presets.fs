/// The networks of the paper and of BENCHMARKS.md, declared with the network DSL.
namespace Snn.Dsl

/// The pooling after an ImageNet ResNet stem: max pooling is the standard definition; average
/// pooling (same window 3, stride 2, pad 1) is the variant to use for conversion, because an
/// IF neuron's rate cannot represent a max.
type StemPool =
    | MaxStemPool
    | AvgStemPool

/// Which input a ResNet is built for.
type ResNetInput =
    /// 32x32 CIFAR: 3x3 stride-1 stem, no stem pooling.
    | Cifar
    /// 224x224 ImageNet: 7x7 stride-2 stem, then a 3x3 stride-2 pooling.
    | ImageNet of StemPool

/// A named network of the presets, with its parameters.
type Preset =
    | FmnistVgg
    | Vgg16 of classes: int
    | ResNet20 of classes: int
    | ResNet18 of input: ResNetInput * classes: int
    | ResNet34 of input: ResNetInput * classes: int

module Presets =

    /// conv3x3-BN-A with a bias on the conv (the VGG form).
    let private convBnAct channels = [ conv channels; bn; act ]

    /// BENCHMARKS.md's fmnist-vgg (Fashion-MNIST, 1x28x28), 437,226 parameters:
    /// conv3x3(1->32)-BN-A, conv3x3(32->32)-BN-A, avgpool2, conv3x3(32->64)-BN-A,
    /// conv3x3(64->64)-BN-A, avgpool2, conv3x3(64->128)-BN-A, avgpool2 (-> 128x3x3), flatten,
    /// linear(1152->256)-A, linear(256->10). Every 3x3 conv has padding 1 and a bias.
    let fmnistVgg =
        network
            (Image(1, 28, 28))
            [ yield! convBnAct 32
              yield! convBnAct 32
              avgPool 2
              yield! convBnAct 64
              yield! convBnAct 64
              avgPool 2
              yield! convBnAct 128
              avgPool 2
              flatten
              linearFrom 1152 256
              act
              linear 10 ]

    /// VGG-16 with batch norm for 3x32x32 CIFAR, as in the QCFS code (Bu et al. 2022) that the
    /// dual-phase paper compares with: 13 conv3x3(pad 1, bias)-BN-A in blocks 64,64 | 128,128 |
    /// 256 x3 | 512 x3 | 512 x3, each block closed by avgpool2 (32 -> 1), then flatten,
    /// linear(512->4096)-A-dropout 0.5, linear(4096->4096)-A-dropout 0.5, linear(4096->classes).
    /// Average pooling (not max) so that the network converts to an SNN.
    let vgg16 (classes: int) =
        let block channels count =
            List.replicate count channels
            |> List.collect convBnAct
            |> fun ls -> ls @ [ avgPool 2 ]

        input (3, 32, 32)
        -->> block 64 2
        -->> block 128 2
        -->> block 256 3
        -->> block 512 3
        -->> block 512 3
        --> flatten
        --> linear 4096
        --> act
        --> dropout 0.5
        --> linear 4096
        --> act
        --> dropout 0.5
        --> linear classes

    /// A stage of `blocks` basic blocks with `channels` channels; the first has stride `stride`.
    let private stage channels stride blocks =
        residual channels stride :: List.replicate (blocks - 1) (residual channels 1)

    /// ResNet-20 for 3x32x32 CIFAR (He et al. 2016, section 4.2): conv3x3(3->16, no bias)-BN-A,
    /// three stages of 3 basic blocks with 16, 32, 64 channels (strides 1, 2, 2), global average
    /// pooling, flatten, linear(64->classes). Shortcuts are option B: a 1x1 conv (stride 2, no
    /// bias) + BN where the shape changes, identity elsewhere: 272,474 parameters for 10 classes
    /// (option A's parameter-free zero-padding shortcut would give 269,722).
    let resnet20 (classes: int) =
        input (3, 32, 32) --> convWith 16 3 1 1 false --> bn --> act
        -->> stage 16 1 3
        -->> stage 32 2 3
        -->> stage 64 2 3
        --> globalAvgPool
        --> flatten
        --> linear classes

    let private resnet (blocks: int list) (inputKind: ResNetInput) (classes: int) =
        let stem =
            match inputKind with
            | Cifar -> input (3, 32, 32) --> convWith 64 3 1 1 false --> bn --> act
            | ImageNet pool ->
                input (3, 224, 224)
                --> convWith 64 7 2 3 false
                --> bn
                --> act
                --> (match pool with
                     | MaxStemPool -> maxPoolWith 3 2 1
                     | AvgStemPool -> avgPoolWith 3 2 1)

        let stages =
            List.zip3 [ 64; 128; 256; 512 ] [ 1; 2; 2; 2 ] blocks
            |> List.collect (fun (c, s, n) -> stage c s n)

        stem -->> stages --> globalAvgPool --> flatten --> linear classes

    /// ResNet-18 (basic blocks [2; 2; 2; 2], 64..512 channels, projection shortcuts where the
    /// shape changes). ImageNet with 1000 classes: 11,689,512 parameters (torchvision's count);
    /// CIFAR with 10 classes: 11,173,962.
    let resnet18 inputKind classes = resnet [ 2; 2; 2; 2 ] inputKind classes

    /// ResNet-34 (basic blocks [3; 4; 6; 3]). ImageNet with 1000 classes: 21,797,672 parameters;
    /// CIFAR with 10 classes: 21,282,122.
    let resnet34 inputKind classes = resnet [ 3; 4; 6; 3 ] inputKind classes

    /// The spec of a preset.
    let spec (preset: Preset) =
        match preset with
        | FmnistVgg -> fmnistVgg
        | Vgg16 classes -> vgg16 classes
        | ResNet20 classes -> resnet20 classes
        | ResNet18(inputKind, classes) -> resnet18 inputKind classes
        | ResNet34(inputKind, classes) -> resnet34 inputKind classes
