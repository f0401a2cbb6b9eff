namespace Snn.Core.Data;

/// <summary>
/// The files of one image-folder split (&lt;split&gt;/&lt;class&gt;/*.jpg|*.jpeg|*.png), listed without reading
/// any image: classes are the sub-folders sorted by ordinal name (label k = k-th folder) and files in a class
/// are in ordinal name order, so image i of the index is the same file on every run.
/// </summary>
public sealed class ImageFolderIndex
{
    /// <summary>The file extensions accepted as images (case-insensitive).</summary>
    public static readonly IReadOnlyList<string> Extensions = [".jpg", ".jpeg", ".png"];

    private ImageFolderIndex(string folder, IReadOnlyList<string> classNames, string[] files, int[] labels)
    {
        Folder = folder;
        ClassNames = classNames;
        Files = files;
        Labels = labels;
    }

    /// <summary>The split folder.</summary>
    public string Folder { get; }

    /// <summary>The class names (sub-folder names), indexed by label.</summary>
    public IReadOnlyList<string> ClassNames { get; }

    /// <summary>The image paths, class by class, each class in ordinal name order.</summary>
    public IReadOnlyList<string> Files { get; }

    /// <summary>The label of each file, in [0, ClassNames.Count).</summary>
    public IReadOnlyList<int> Labels { get; }

    /// <summary>The number of images N.</summary>
    public int Count => Files.Count;

    /// <summary>Lists a split folder and checks its layout.</summary>
    /// <param name="folder">A split folder whose sub-folders are the classes, each holding at least one image.</param>
    /// <exception cref="DataFileException">
    /// The folder is missing or has no class folders; a class folder is empty; a file that is not a class
    /// folder sits in the split folder; a class holds a file without an image extension.
    /// </exception>
    public static ImageFolderIndex Build(string folder)
    {
        if (!Directory.Exists(folder))
        {
            throw new DataFileException(folder, "not found: expected a folder with one sub-folder per class");
        }

        var stray = Directory.GetFiles(folder).OrderBy(f => f, StringComparer.Ordinal).FirstOrDefault();
        if (stray is not null)
        {
            throw new DataFileException(stray, $"is a file in the split folder {folder}: expected only class sub-folders there");
        }

        var classFolders = Directory.GetDirectories(folder).OrderBy(d => d, StringComparer.Ordinal).ToArray();
        if (classFolders.Length == 0)
        {
            throw new DataFileException(folder, "has no class folders: expected <class>/<image>.jpg|.jpeg|.png");
        }

        var files = new List<string>();
        var labels = new List<int>();
        for (var k = 0; k < classFolders.Length; k++)
        {
            var classFiles = Directory.GetFileSystemEntries(classFolders[k]).OrderBy(f => f, StringComparer.Ordinal).ToArray();
            if (classFiles.Length == 0)
            {
                throw new DataFileException(
                    classFolders[k], $"is an empty class folder: expected at least one {string.Join("/", Extensions)} image");
            }

            foreach (var file in classFiles)
            {
                if (Directory.Exists(file) || !Extensions.Contains(Path.GetExtension(file).ToLowerInvariant()))
                {
                    throw new DataFileException(
                        file, $"is not an image file: expected only {string.Join(", ", Extensions)} files in class folder {classFolders[k]}");
                }

                files.Add(file);
                labels.Add(k);
            }
        }

        var names = classFolders.Select(d => Path.GetFileName(d)!).ToArray();
        return new ImageFolderIndex(folder, names, [.. files], [.. labels]);
    }

    /// <summary>
    /// Requires <paramref name="other"/> (e.g. the validation split) to have exactly this split's class names:
    /// labels are folder positions, so a different set of names would silently give images wrong labels.
    /// </summary>
    /// <param name="other">The other split's index.</param>
    /// <exception cref="DataFileException">The class names differ; the message lists the names only one split has.</exception>
    public void RequireSameClasses(ImageFolderIndex other)
    {
        ArgumentNullException.ThrowIfNull(other);
        if (ClassNames.SequenceEqual(other.ClassNames, StringComparer.Ordinal))
        {
            return;
        }

        static string List(IEnumerable<string> names)
        {
            var all = names.ToArray();
            var shown = string.Join(", ", all.Take(10));
            return all.Length == 0 ? "none" : all.Length > 10 ? $"{shown}, ... ({all.Length} in all)" : shown;
        }

        var onlyHere = ClassNames.Except(other.ClassNames, StringComparer.Ordinal);
        var onlyThere = other.ClassNames.Except(ClassNames, StringComparer.Ordinal);
        throw new DataFileException(
            other.Folder,
            $"has {other.ClassNames.Count} class folders that differ from the {ClassNames.Count} of {Folder}: expected the same class " +
            $"names in both splits (labels are folder positions). Only in {Path.GetFileName(Folder)}: {List(onlyHere)}; " +
            $"only in {Path.GetFileName(other.Folder)}: {List(onlyThere)}");
    }
}
