namespace Snn.Core.Data;

/// <summary>
/// Everything the toolkit knows about one dataset, in one place: its name (the same in the CLI, experiment
/// JSON and DSL), class count, image shape, expected files, where it is looked for and how to get it, its
/// normalisation, its training augmentation and its reader. The known datasets are <see cref="All"/>; adding one
/// is a descriptor (in DatasetDescriptor.Known.cs) plus its <see cref="IDatasetReader"/>.
/// </summary>
public sealed partial record DatasetDescriptor
{
    /// <summary>The one name of the dataset, lower case: "fashion-mnist", "mnist", "cifar10", "cifar100", "imagenet".</summary>
    public required string Name { get; init; }

    /// <summary>A human-readable title for messages, e.g. "Fashion-MNIST".</summary>
    public required string Title { get; init; }

    /// <summary>Channels C of every image (1 greyscale, 3 RGB); fixed by the format.</summary>
    public required int Channels { get; init; }

    /// <summary>
    /// The standard image height and width in pixels (28 for the MNISTs, 32 for CIFAR, the image size S for an
    /// image folder). The files' headers give the size actually read (<see cref="DatasetLayout"/>).
    /// </summary>
    public required int ImageSide { get; init; }

    /// <summary>
    /// The image side S an image folder's images are scaled and cropped to, in [1, 4096]; null for formats with a
    /// fixed size. Change it with <see cref="WithImageSize"/>.
    /// </summary>
    public int? ImageSize { get; init; }

    /// <summary>The class names fixed by the format (files may rename them, never change their count); null when the files define the classes (image folders).</summary>
    public IReadOnlyList<string>? ClassNames { get; init; }

    /// <summary>The files a folder of this dataset must hold, as a sentence fragment for messages.</summary>
    public required string ExpectedFiles { get; init; }

    /// <summary>Folder names under which a parent folder may hold the dataset ("fashion-mnist", "cifar-10-batches-bin").</summary>
    public IReadOnlyList<string> ConventionalFolders { get; init; } = [];

    /// <summary>System folders tried when neither a path nor SNN_DATA is given (a Debian package's folder).</summary>
    public IReadOnlyList<string> SystemFolders { get; init; } = [];

    /// <summary>How to obtain the data when it is not installed (a package to install), or null when no package ships it.</summary>
    public string? Install { get; init; }

    /// <summary>The per-channel normalisation (p / 255 - mean_c) / std_c; one mean and std per channel.</summary>
    public required Normalization Normalization { get; init; }

    /// <summary>The standard training augmentation (evaluation uses none).</summary>
    public required Augmentation TrainingAugmentation { get; init; }

    /// <summary>The reader of the dataset's files.</summary>
    public required IDatasetReader Reader { get; init; }

    /// <summary>The class count K fixed by the format, or null when the files define it.</summary>
    public int? Classes => ClassNames?.Count;

    /// <summary>The standard image shape [C, H, W].</summary>
    public int[] ImageShape => [Channels, ImageSide, ImageSide];

    /// <summary>
    /// The name plus every setting that changes what is read: "fashion-mnist", or "imagenet@224" for an image
    /// folder read at S = 224. Part of <see cref="DatasetIdentity"/>.
    /// </summary>
    public string Key => ImageSize is { } s ? $"{Name}@{s}" : Name;

    /// <summary>
    /// This image-folder dataset read at another image side S (shape 3 x S x S).
    /// </summary>
    /// <param name="imageSize">The side S in pixels, in [1, 4096].</param>
    /// <exception cref="ArgumentException">S is out of range, or the dataset's image size is fixed by its format.</exception>
    public DatasetDescriptor WithImageSize(int imageSize)
    {
        if (ImageSize is null)
        {
            throw new ArgumentException(
                $"{nameof(imageSize)} = {imageSize} does not apply to {Name}: its images are {Channels}x{ImageSide}x{ImageSide} by format " +
                $"(an image size applies to image-folder datasets: {string.Join(", ", All.Where(d => d.ImageSize is not null).Select(d => d.Name))})",
                nameof(imageSize));
        }

        if (imageSize < 1 || imageSize > 4096)
        {
            throw new ArgumentException($"{nameof(imageSize)} = {imageSize} is out of range: expected [1, 4096] pixels", nameof(imageSize));
        }

        return this with { ImageSize = imageSize, ImageSide = imageSize };
    }

    /// <summary>The layout of the dataset in <paramref name="folder"/>, from headers only (see <see cref="IDatasetReader.Inspect"/>).</summary>
    /// <param name="folder">The dataset folder.</param>
    public DatasetLayout Inspect(string folder) => Reader.Inspect(this, folder);

    /// <summary>The identity of the dataset's files in <paramref name="folder"/> (see <see cref="DatasetIdentity"/>).</summary>
    /// <param name="folder">The dataset folder.</param>
    public DatasetIdentity Identify(string folder) => Reader.Identify(this, folder);

    /// <summary>The dataset's name.</summary>
    public override string ToString() => Name;

    /// <summary>
    /// The known dataset with this name (case-insensitive), image folders at their default image size.
    /// </summary>
    /// <param name="name">One of the names of <see cref="All"/>.</param>
    /// <param name="argument">How the caller's argument is called in the message (e.g. "--dataset" or "data.dataset").</param>
    /// <exception cref="ArgumentException">An unknown name; the message names the argument and lists the known names.</exception>
    public static DatasetDescriptor Find(string name, string argument = "name")
    {
        var found = name is null ? null : All.FirstOrDefault(d => string.Equals(d.Name, name.Trim(), StringComparison.OrdinalIgnoreCase));
        return found ?? throw new ArgumentException(
            $"{argument} = {name ?? "null"} is not a known dataset: expected one of {string.Join(", ", All.Select(d => d.Name))}",
            argument);
    }
}
