namespace Snn.Core.Data;

/// <summary>The known datasets: one descriptor each. Add a dataset here (and to <see cref="All"/>) with its reader.</summary>
public sealed partial record DatasetDescriptor
{
    /// <summary>The folder where Debian's dataset-fashion-mnist package puts the four IDX .gz files.</summary>
    public const string DebianFashionMnistFolder = "/usr/share/datasets/fashion-mnist";

    private const string IdxFiles =
        "train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte (each optionally gzipped, ending in .gz)";

    /// <summary>
    /// Fashion-MNIST: IDX files, 1x28x28, 10 classes; normalisation mean 0.2860, std 0.3530; augmentation crop
    /// with padding 2 and horizontal flip (BENCHMARKS.md); installed by Debian's dataset-fashion-mnist package.
    /// </summary>
    public static DatasetDescriptor FashionMnist { get; } = new()
    {
        Name = "fashion-mnist",
        Title = "Fashion-MNIST",
        Channels = 1,
        ImageSide = 28,
        ClassNames = Idx.FashionMnistClasses,
        ExpectedFiles = IdxFiles,
        ConventionalFolders = ["fashion-mnist"],
        SystemFolders = [DebianFashionMnistFolder],
        Install = $"Install it as root with 'apt-get install dataset-fashion-mnist' (files go to {DebianFashionMnistFolder})",
        Normalization = Normalization.FashionMnist,
        TrainingAugmentation = new(2, true),
        Reader = new IdxReader(),
    };

    /// <summary>
    /// MNIST: the same IDX layout, 1x28x28, classes "0".."9"; mean 0.1307, std 0.3081; crop with padding 2, no
    /// flip (digits are not mirror-symmetric).
    /// </summary>
    public static DatasetDescriptor Mnist { get; } = new()
    {
        Name = "mnist",
        Title = "MNIST",
        Channels = 1,
        ImageSide = 28,
        ClassNames = Idx.MnistClasses,
        ExpectedFiles = IdxFiles,
        ConventionalFolders = ["mnist"],
        Normalization = Normalization.Mnist,
        TrainingAugmentation = new(2, false),
        Reader = new IdxReader(),
    };

    /// <summary>CIFAR-10, binary version: 3x32x32, 10 classes; CIFAR-10 statistics; crop with padding 4 and flip.</summary>
    public static DatasetDescriptor Cifar10 { get; } = new()
    {
        Name = "cifar10",
        Title = "CIFAR-10 (binary version)",
        Channels = 3,
        ImageSide = 32,
        ClassNames = Cifar.Cifar10Classes,
        ExpectedFiles = string.Join(", ", Cifar.Cifar10TrainFiles) + $", {Cifar.Cifar10TestFile} (directly or under {Cifar.Cifar10Folder}/)",
        ConventionalFolders = [Cifar.Cifar10Folder],
        Normalization = Normalization.Cifar10,
        TrainingAugmentation = new(4, true),
        Reader = new CifarReader(Cifar.Ten),
    };

    /// <summary>CIFAR-100, binary version, fine labels: 3x32x32, 100 classes; CIFAR-100 statistics; crop with padding 4 and flip.</summary>
    public static DatasetDescriptor Cifar100 { get; } = new()
    {
        Name = "cifar100",
        Title = "CIFAR-100 (binary version)",
        Channels = 3,
        ImageSide = 32,
        ClassNames = Cifar.Hundred.DefaultClasses,
        ExpectedFiles = $"train.bin, test.bin (directly or under {Cifar.Cifar100Folder}/)",
        ConventionalFolders = [Cifar.Cifar100Folder],
        Normalization = Normalization.Cifar100,
        TrainingAugmentation = new(4, true),
        Reader = new CifarReader(Cifar.Hundred),
    };

    /// <summary>
    /// An image folder in the ImageNet layout (train/&lt;class&gt;/*.jpg and val/&lt;class&gt;/... or test/...), read
    /// at S x S (default 224; see <see cref="WithImageSize"/>); classes are the folders; ImageNet statistics;
    /// crop with padding 4 and flip.
    /// </summary>
    public static DatasetDescriptor ImageNet { get; } = new()
    {
        Name = "imagenet",
        Title = "an image-folder dataset (ImageNet layout)",
        Channels = 3,
        ImageSide = 224,
        ImageSize = 224,
        ExpectedFiles = "train/<class>/*.jpg|png and val/<class>/... (or test/<class>/...)",
        Normalization = Normalization.ImageNet,
        TrainingAugmentation = new(4, true),
        Reader = new ImageFolderReader(),
    };

    /// <summary>Every known dataset, in the order listed in messages.</summary>
    public static IReadOnlyList<DatasetDescriptor> All { get; } = [FashionMnist, Mnist, Cifar10, Cifar100, ImageNet];
}
