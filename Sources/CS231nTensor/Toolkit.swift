/// Facts about this build of the toolkit.
public enum Toolkit {
    public static let version = "0.1.0"
}
